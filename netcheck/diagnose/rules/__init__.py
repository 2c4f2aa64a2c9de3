"""The catalogue of diagnosis rules, one module each; `RULES` is what gets registered."""

from __future__ import annotations

from netcheck.diagnose.base import Rule
from netcheck.diagnose.rules.arp_ignore import ArpFilter, ArpIgnore
from netcheck.diagnose.rules.dns_default_bridge import DnsDefaultBridge
from netcheck.diagnose.rules.docker_internal import DockerInternal
from netcheck.diagnose.rules.duplicate_ip import DuplicateIp
from netcheck.diagnose.rules.filtered import Filtered
from netcheck.diagnose.rules.macvlan_isolation import MacvlanHostIsolation
from netcheck.diagnose.rules.macvlan_modes import MacvlanPrivate, MacvlanVepa
from netcheck.diagnose.rules.mtu_blackhole import MtuBlackhole
from netcheck.diagnose.rules.no_default_route import NoDefaultRoute
from netcheck.diagnose.rules.no_forwarding import NoForwarding
from netcheck.diagnose.rules.no_gateway import NoGateway
from netcheck.diagnose.rules.no_l2_adjacency import NoL2Adjacency
from netcheck.diagnose.rules.no_route import NoRoute
from netcheck.diagnose.rules.off_subnet_no_route_back import OffSubnetNoRouteBack
from netcheck.diagnose.rules.parent_down import ParentDown
from netcheck.diagnose.rules.port_closed import PortClosed
from netcheck.diagnose.rules.rp_filter import RpFilter
from netcheck.diagnose.rules.rp_filter_arp import RpFilterArp
from netcheck.diagnose.rules.static_neighbour import StaticNeighbour
from netcheck.diagnose.rules.unrouted_address import UnroutedServiceAddress
from netcheck.diagnose.rules.vxlan_mismatch import VxlanPortMismatch, VxlanVniMismatch

RULES: tuple[type[Rule], ...] = (
    MacvlanHostIsolation,
    MacvlanPrivate,
    MacvlanVepa,
    RpFilter,
    RpFilterArp,
    ArpIgnore,
    ArpFilter,
    NoL2Adjacency,
    DockerInternal,
    NoDefaultRoute,
    UnroutedServiceAddress,
    OffSubnetNoRouteBack,
    NoRoute,
    NoForwarding,
    NoGateway,
    VxlanVniMismatch,
    VxlanPortMismatch,
    MtuBlackhole,
    DuplicateIp,
    StaticNeighbour,
    Filtered,
    PortClosed,
    DnsDefaultBridge,
    ParentDown,
)
