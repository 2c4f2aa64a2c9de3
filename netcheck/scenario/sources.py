"""What the scenario says about each node's own addressing, for the checks on literal
targets (`to: 10.20.0.5`) and pinned sources (`from: c1@net`, `source: ADDRESS`).

Pure: read from the resolved Lab, networks and endpoints, before anything is built. An
IPAM address is not known until the runtime hands it out, so such a node is `dynamic` and
its `source:` address is checked at run time (netcheck.engine.plan_tasks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from netcheck.model.plan import Driver, Endpoint, IPAddress, IPNetwork, Lab, Network, NodeStack


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFacts:
    """One node's addressing as the scenario states it."""

    subnets: tuple[tuple[str, IPNetwork], ...] = ()  # (network/LAN, on-link subnet)
    addresses: tuple[tuple[str, IPAddress], ...] = ()  # (network/LAN, fixed address)
    dynamic: bool = False  # some address comes from IPAM when the runtime builds it
    unknown_subnets: bool = False  # a network whose subnet the runtime picks (default bridge)
    routes: tuple[IPNetwork, ...] = ()  # declared route destinations (0.0.0.0/0: default)
    gateway: bool = False  # a default route via a LAN or network gateway

    def on_link(self, address: IPAddress, via: str | None = None) -> bool:
        return any(address in net for name, net in self.subnets
                   if via is None or name == via)

    def routed(self, address: IPAddress) -> bool:
        return any(address.version == dst.version and address in dst for dst in self.routes)

    def has_address(self, address: IPAddress) -> bool:
        return any(a == address for _, a in self.addresses)


def _subnets(net: Network) -> tuple[IPNetwork, ...]:
    return tuple(s.subnet for s in net.subnets)


def node_facts(lab: Lab, networks: Mapping[str, Network],
               endpoints: Iterable[Endpoint]) -> dict[str, SourceFacts]:
    out: dict[str, SourceFacts] = {}
    lans = {lan.name: lan for lan in lab.lans}
    eps = list(endpoints)
    for router in lab.all_routers:
        legs = [(leg, lans[leg.lan]) for leg in lab.legs(router) if leg.lan in lans]
        out[router.name] = _with_stack(SourceFacts(
            subnets=tuple((lan.name, lan.subnet) for _, lan in legs),
            addresses=tuple((leg.lan, leg.ip) for leg, _ in legs),
            routes=tuple(r.dst for r in router.routes),
        ), router.stack, {lan.name: lan.name for _, lan in legs})
    for m in lab.machines:
        lan = lans.get(m.lan)
        on_lan = lan is not None and m.ip.version == lan.subnet.version and m.ip in lan.subnet
        out[m.name] = _with_stack(SourceFacts(
            subnets=((m.lan, lan.subnet),) if lan is not None and on_lan else (),
            addresses=((m.lan, m.ip),),
            routes=tuple(r.dst for r in m.routes),
            gateway=lan is not None and lan.gateway is not None and lan.gateway != m.ip
            and m.stack.default_route,
        ), m.stack, {"eth0": m.lan})
    for h in lab.hosts:
        subnets: list[tuple[str, IPNetwork]] = []
        addresses: list[tuple[str, IPAddress]] = []
        gateway = False
        for up in h.uplinks:
            lan = lans.get(up.lan)
            if lan is None:
                continue
            subnets.append((up.lan, lan.subnet))
            if up.ip is not None:
                addresses.append((up.lan, up.ip))
                gateway = gateway or (lan.gateway is not None and lan.gateway != up.ip
                                      and h.stack.default_route)
        uplink_lan = {u.ifname: u.lan for u in h.uplinks}
        routes = [r.dst for r in h.routes]
        for shim in h.shims:
            addresses.append((uplink_lan.get(shim.parent, shim.parent), shim.ip))
            routes.extend(shim.routes)
        # The host holds the gateway of each bridge network its containers use.
        bridged = {a.network for ep in eps if ep.host == h.name for a in ep.attachments}
        for name in sorted(bridged):
            net = networks.get(name)
            if net is not None and net.driver is Driver.BRIDGE:
                subnets.extend((name, s) for s in _subnets(net))
        out[h.name] = _with_stack(
            SourceFacts(subnets=tuple(subnets), addresses=tuple(addresses),
                        dynamic=bool(bridged), routes=tuple(routes), gateway=gateway),
            h.stack, uplink_lan)
    for ep in eps:
        subnets = []
        addresses = []
        # An existing container's networks and addresses are Docker's, read at build time.
        dynamic = unknown = gateway = ep.container is not None
        for att in ep.attachments:
            net = networks.get(att.network)
            if net is None or not net.subnets:  # default bridge, IPAM's choice, or external
                dynamic = unknown = True
                gateway = gateway or net is None or not net.internal
                continue
            subnets.extend((net.name, s) for s in _subnets(net))
            if att.ip is not None:
                addresses.append((net.name, att.ip))
            families = {s.version for s in _subnets(net)}
            # No fixed address, or a dual-stack network's other family: IPAM gives it.
            dynamic = dynamic or att.ip is None or len(families) > 1
            gateway = gateway or not net.internal
        out[ep.name] = SourceFacts(subnets=tuple(subnets), addresses=tuple(addresses),
                                   dynamic=dynamic, unknown_subnets=unknown, gateway=gateway)
    return out


def _with_stack(facts: SourceFacts, stack: NodeStack, lan_of: Mapping[str, str]) -> SourceFacts:
    """A node's extra addresses (on the LAN of their device, or on lo) and the routes of
    its extra tables (a rule may select them) and a default route it was given."""
    routes = [*facts.routes, *(r.dst for t in stack.tables for r in t.routes)]
    subnets = list(facts.subnets)
    addresses = list(facts.addresses)
    for a in stack.addresses:
        where = lan_of.get(a.dev, a.dev)
        addresses.append((where, a.ip))
        if a.dev != "lo":
            subnets.append((where, a.network))
    return replace(facts, subnets=tuple(subnets), addresses=tuple(addresses),
                   routes=tuple(routes))


def scenario_subnets(lab: Lab, networks: Iterable[Network]) -> tuple[IPNetwork, ...]:
    """Every LAN and network range of the scenario: where a gateway can forward to (lab
    nodes' extra addresses included: a service address on lo is routed to somewhere)."""
    stacks = [m.stack for m in lab.machines] + [h.stack for h in lab.hosts]
    stacks += [router.stack for router in lab.all_routers]
    extra = [a.network for stack in stacks for a in stack.addresses]
    return (*(lan.subnet for lan in lab.lans), *(s for n in networks for s in _subnets(n)),
            *extra)


def reaches(facts: SourceFacts, address: IPAddress, known: Iterable[IPNetwork],
            via: str | None = None) -> bool:
    """The scenario gives `address` a way from this node: on-link, a declared route, or a
    gateway that forwards to one of the scenario's own ranges. Unknown subnets: assume so."""
    if facts.unknown_subnets or facts.on_link(address, via) or facts.routed(address):
        return True
    return facts.gateway and any(address.version == n.version and address in n for n in known)
