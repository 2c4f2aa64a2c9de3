"""Decide what the netns runtime builds for each endpoint, before touching the kernel.

Pure: Plan + kernel features in, per-endpoint interface specs (addresses from IPAM, names,
parents, modes, MACs) and the endpoints that cannot be built (with the reason) out.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from netcheck.model.plan import (
    Driver,
    Endpoint,
    IPAddress,
    IpvlanMode,
    MacvlanMode,
    Network,
    Plan,
    Subnet,
    start_waves,
)
from netcheck.runtime.naming import LOCAL_HOST
from netcheck.runtime.netns.ipam import IpamError, allocate_families, gateway_of

OVERLAY_REASON = "overlay networks need the docker runtime (swarm)"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressSpec:
    """A further address of an attachment: the other family on a dual-stack network."""

    address: IPAddress
    subnet: Subnet
    gateway: IPAddress | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentSpec:
    network: str
    driver: Driver
    ifname: str  # inside the endpoint: eth0, eth1... in attachment order, like Docker
    address: IPAddress
    subnet: Subnet
    gateway: IPAddress | None  # the default route's next hop, None for internal networks
    parent: str | None  # macvlan/ipvlan: the host interface it hangs off
    mode: str | None  # macvlan/ipvlan mode
    mtu: int | None  # the interface inside the endpoint: its own `mtu:`, else the network's
    mac: str | None  # None: let the kernel choose (passthru, ipvlan, IPv6-only)
    more: tuple[AddressSpec, ...] = ()  # dual-stack: the other family's address
    network_mtu: int | None = None  # the network's: a veth's host end keeps it

    @property
    def gateways(self) -> tuple[IPAddress, ...]:
        """Default-route next hops of this attachment, one per family at most."""
        found = (self.gateway, *(m.gateway for m in self.more))
        return tuple(g for g in found if g is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointSpec:
    name: str
    host: str  # a lab host name, or LOCAL_HOST for the implicit one
    attachments: tuple[AttachmentSpec, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointLayout:
    endpoints: tuple[EndpointSpec, ...]
    unavailable: Mapping[str, str]
    # Host (or LOCAL_HOST) -> bridge-driver networks that need a bridge in that host.
    host_bridges: Mapping[str, tuple[str, ...]]

    @property
    def uses_local_host(self) -> bool:
        return any(ep.host == LOCAL_HOST for ep in self.endpoints)


def docker_mac(address: IPAddress) -> str | None:
    """Docker's MAC for an IPv4 container address: 02:42 followed by the address bytes."""
    if not isinstance(address, ipaddress.IPv4Address):
        return None
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)


def _second_mac(host: str, address: IPAddress) -> str:
    digest = hashlib.sha256(f"{host}/{address}".encode()).digest()
    return "06:" + ":".join(f"{b:02x}" for b in digest[:5])


def _host_for(plan: Plan, ep: Endpoint) -> tuple[str | None, str | None]:
    """(host, None) or (None, reason)."""
    if ep.host is not None:
        if not any(h.name == ep.host for h in plan.lab.hosts):
            return None, f"host {ep.host!r} is not a lab host"
        return ep.host, None
    if not plan.lab.hosts:
        return LOCAL_HOST, None
    if len(plan.lab.hosts) == 1:
        return plan.lab.hosts[0].name, None
    return None, "endpoint names no host and the lab has several"


def _driver_problem(plan: Plan, host: str, net: Network, has: Iterable[str]) -> str | None:
    features = set(has)
    if net.driver is Driver.OVERLAY:
        return OVERLAY_REASON
    if net.driver is Driver.IPVLAN and "ipvlan" not in features:
        return "kernel lacks ipvlan (CONFIG_IPVLAN)"
    if net.driver is Driver.MACVLAN and "macvlan" not in features:
        return "kernel lacks macvlan (CONFIG_MACVLAN)"
    if net.driver in (Driver.MACVLAN, Driver.IPVLAN):
        if net.parent is None:
            return (
                f"{net.driver.value} network {net.name!r} has no parent; the netns runtime "
                "needs one (parent required on this kernel: no dummy device to stand in)"
            )
        if host == LOCAL_HOST:
            return (
                f"{net.driver.value} parent {net.parent!r} must be an uplink of a lab host; "
                "the netns runtime never uses the machine's own interfaces"
            )
        if not any(u.ifname == net.parent for u in plan.lab.host(host).uplinks):
            return f"{net.driver.value} parent {net.parent!r} is not an uplink of host {host!r}"
    if not net.subnets:
        return f"network {net.name!r} has no subnet"
    return None


def _mode(net: Network) -> str | None:
    if net.driver is Driver.MACVLAN:
        return (net.macvlan_mode or MacvlanMode.BRIDGE).value
    if net.driver is Driver.IPVLAN:
        return (net.ipvlan_mode or IpvlanMode.L2).value
    return None


def resolve(plan: Plan, features: Iterable[str]) -> EndpointLayout:
    """Place every endpoint on a host, check its networks can be built, assign addresses.

    IPAM pools are per (host, network), as each Docker daemon keeps its own; fixed
    addresses of every endpoint on a network are kept out of every pool.
    """
    placed, unavailable = place(plan, frozenset(features))
    assigned, failed = assign_addresses(plan, placed)
    unavailable.update(failed)
    specs: list[EndpointSpec] = []
    bridges: dict[str, list[str]] = {}
    macs_seen: set[str] = set()
    for ep, host in placed:
        if ep.name in failed:
            continue
        atts: list[AttachmentSpec] = []
        for index, att in enumerate(ep.attachments):
            net = plan.network(att.network)
            spec = attachment_spec(net, host, index, assigned[(ep.name, att.network)], macs_seen)
            if att.mac is not None or att.mtu is not None:
                # docker run --mac-address / the container's own mtu (checked by validate)
                spec = replace(spec, mac=att.mac or spec.mac, mtu=att.mtu or spec.mtu)
            if net.driver is Driver.BRIDGE and net.name not in bridges.setdefault(host, []):
                bridges[host].append(net.name)
            atts.append(spec)
        specs.append(EndpointSpec(name=ep.name, host=host, attachments=tuple(atts)))
    return EndpointLayout(
        endpoints=tuple(specs),
        unavailable=unavailable,
        host_bridges={h: tuple(n) for h, n in bridges.items()},
    )


def place(plan: Plan, has: frozenset[str]) -> tuple[list[tuple[Endpoint, str]], dict[str, str]]:
    """Each endpoint's host, in plan order, and the endpoints that cannot be built (why)."""
    unavailable: dict[str, str] = {}
    placed: list[tuple[Endpoint, str]] = []
    # Start order (depends_on) is IPAM order: the first started gets the first address.
    for ep in (e for wave in start_waves(plan.endpoints) for e in wave):
        host, reason = _host_for(plan, ep)
        if host is None:
            unavailable[ep.name] = reason or "no host"
            continue
        for att in ep.attachments:
            try:
                net = plan.network(att.network)
            except KeyError:
                reason = f"network {att.network!r} is not defined"
                break
            reason = _driver_problem(plan, host, net, has)
            if reason is not None:
                break
        if reason is not None:
            unavailable[ep.name] = reason
            continue
        placed.append((ep, host))
    return placed, unavailable


Assigned = dict[tuple[str, str], tuple[tuple[IPAddress, Subnet], ...]]


def assign_addresses(
    plan: Plan, placed: Iterable[tuple[Endpoint, str]]
) -> tuple[Assigned, dict[str, str]]:
    """Addresses per (endpoint, network): one pool per (host, network), requests in endpoint
    order. Also the endpoints whose pool could not serve them (why)."""
    fixed_on: dict[str, set[IPAddress]] = {}
    for ep in plan.endpoints:
        for att in ep.attachments:
            if att.ip is not None:
                fixed_on.setdefault(att.network, set()).add(att.ip)
    pools: dict[tuple[str, str], list[tuple[str, IPAddress | None]]] = {}
    for ep, host in placed:
        for att in ep.attachments:
            pools.setdefault((host, att.network), []).append((ep.name, att.ip))
    assigned: Assigned = {}
    failed: dict[str, str] = {}
    for (host, net_name), requests in pools.items():
        own = {ip for _, ip in requests if ip is not None}
        try:
            got = allocate_families(
                plan.network(net_name).on_host(host),
                requests,
                also_taken=fixed_on.get(net_name, set()) - own,
            )
        except IpamError as exc:
            # A pool that cannot be served fails every endpoint in it: say why, build the rest.
            for ep_name, _ in requests:
                failed.setdefault(ep_name, f"IPAM on host {host!r}: {exc}")
            continue
        for ep_name, value in got.items():
            assigned[(ep_name, net_name)] = value
    return assigned, failed


def attachment_mac(
    net: Network, mode: str | None, host: str, v4: IPAddress, macs_seen: set[str]
) -> str | None:
    """Docker's MAC for the attachment (None where the kernel chooses); remembered in
    `macs_seen` so a second endpoint with the same address gets a MAC of its own."""
    mac: str | None = docker_mac(v4)
    if net.driver is Driver.IPVLAN or mode == MacvlanMode.PASSTHRU.value:
        mac = None  # ipvlan shares the parent's MAC; passthru takes it over
    elif mac is not None and mac in macs_seen:
        # Two daemons handed out the same address (overlapping ip_ranges). Docker
        # >= 25 picks random MACs, so the duplicate shows as two MACs answering one
        # ARP; one MAC in two places would instead make the lab's switch flap.
        mac = _second_mac(host, v4)
    if mac is not None:
        macs_seen.add(mac)
    return mac


def attachment_spec(
    net: Network,
    host: str,
    index: int,
    addresses: tuple[tuple[IPAddress, Subnet], ...],
    macs_seen: set[str],
) -> AttachmentSpec:
    """The `index`-th attachment of an endpoint on `host` to `net`, given its addresses."""
    if net.driver is None:  # external: refused before the build (engine.run)
        raise ValueError(f"network '{net.name}' is external: not for the netns runtime")
    (address, subnet), *others = addresses
    mode = _mode(net)
    # Docker derives the MAC from the IPv4 address, whichever of them was fixed.
    v4 = next((a for a, _ in ((address, subnet), *others) if a.version == 4), address)
    return AttachmentSpec(
        network=net.name,
        driver=net.driver,
        ifname=f"eth{index}",
        address=address,
        subnet=subnet,
        gateway=None if net.internal else gateway_of(subnet),
        parent=net.parent if net.driver in (Driver.MACVLAN, Driver.IPVLAN) else None,
        mode=mode,
        mtu=net.mtu,
        network_mtu=net.mtu,
        mac=attachment_mac(net, mode, host, v4, macs_seen),
        more=tuple(
            AddressSpec(address=a, subnet=s, gateway=None if net.internal else gateway_of(s))
            for a, s in others
        ),
    )
