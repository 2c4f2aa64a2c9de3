"""Small address rules and registries shared by the resolver's cross-field checks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netcheck.model.plan import IPAddress, IPNetwork
from netcheck.scenario.paths import Path


def inside(ip: IPAddress, net: IPNetwork) -> bool:
    return ip.version == net.version and ip in net


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    if isinstance(a, ipaddress.IPv4Network) and isinstance(b, ipaddress.IPv4Network):
        return a.overlaps(b)
    if isinstance(a, ipaddress.IPv6Network) and isinstance(b, ipaddress.IPv6Network):
        return a.overlaps(b)
    return False


def reserved_reason(ip: IPAddress, net: IPNetwork) -> str | None:
    """Why `ip` cannot be a host address in `net` (its network or broadcast address)."""
    if isinstance(net, ipaddress.IPv4Network) and net.prefixlen <= 30:
        if ip == net.network_address:
            return f"{ip} is the network address of {net}"
        if ip == net.broadcast_address:
            return f"{ip} is the broadcast address of {net}"
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen <= 126 \
            and ip == net.network_address:
        return f"{ip} is the subnet-router anycast address of {net}"
    return None


def first_host(net: IPNetwork) -> IPAddress:
    for host in net.hosts():
        return ipaddress.ip_address(host.compressed)
    return net.network_address


@dataclass(frozen=True, slots=True)
class Claim:
    what: str  # "machine 'nas'", "the gateway of lan 'lan'"
    path: Path
    line: int
    duplicate: bool = False  # `duplicate: allowed`: another node may hold it too


@dataclass(slots=True)
class AddressBook:
    """Who holds which address in one L2 domain; the first claim wins."""

    claims: dict[IPAddress, Claim] = field(default_factory=dict)

    def claim(self, ip: IPAddress, claim: Claim) -> Claim | None:
        """The earlier claim when `ip` is taken, else None (and `ip` is now taken)."""
        earlier = self.claims.get(ip)
        if earlier is None:
            self.claims[ip] = claim
        return earlier

    def holder(self, ip: IPAddress) -> Claim | None:
        return self.claims.get(ip)
