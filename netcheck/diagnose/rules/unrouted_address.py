"""A service address on lo (an anycast or service IP) that no router leads to.

`ip address add 192.0.2.53/32 dev lo` makes the node answer for the address, but only a
packet that gets to the node reaches it: off every LAN's subnet, each router on the way
needs a route to it (or a routing protocol announcing it). Walked by the kernel's own
lookups from the source, hop by hop (`ip route get ADDR from SRC iif LEG`): said when a
node on the way, not the holder, has no route for it, and that node's refusal was seen
(its IpExt.InNoRoutes counter moved, or the probe came back as an ICMP unreachable).
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import (
    holding,
    ip_or_none,
    probe_line,
    source_address,
    source_node,
)
from netcheck.model.plan import IPAddress
from netcheck.model.results import Finding, Node, Observation

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)
_MAX_HOPS = 8
# A forwarding node counts a packet it has no route for here (ip_error: ENETUNREACH).
HOP_NO_ROUTE = "IpExt.InNoRoutes"


def first_hop_without_route(case: Case, start: Node, frm: IPAddress,
                            to: IPAddress) -> tuple[Node, list[str]] | None:
    """The first node past `start` whose lookup for `to` (arriving on the leg holding the
    previous hop's gateway) fails, and the lookups on the way, as evidence."""
    answer = case.live.route_lookup(start.netns, str(to), src=str(frm))
    lookups = [f"{start.name}: {answer.text}"]
    visited = {start.name}
    for _ in range(_MAX_HOPS):
        hop_ip = ip_or_none(answer.gateway)
        if answer.errno or hop_ip is None:
            return None  # on-link at last (or the start's own failure: not a hop's)
        holder = next(((n, i) for n in case.topology.nodes.values()
                       if n.name not in visited and (i := holding(n, hop_ip)) is not None),
                      None)
        if holder is None or holding(holder[0], to) is not None:
            return None
        node, iface = holder
        visited.add(node.name)
        answer = case.live.route_lookup(node.netns, str(to), src=str(frm), iif=iface.ifname)
        lookups.append(f"{node.name}: {answer.text}")
        if answer.errno in _NO_ROUTE:
            return node, lookups
    return None


class UnroutedServiceAddress:
    id = "unrouted-service-address"
    needs = (
        "the target address held on lo by a node of the run (read at build time), and a node "
        "on the way (by the kernel's lookups hop by hop, with iif) whose lookup for it fails "
        "while its IpExt.InNoRoutes counter moved or its ICMP unreachable came back"
    )
    remedy = "a route to the service address via its holder on each router on the way"

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        if r.observation not in (Observation.SILENT, Observation.ICMP_ERROR):
            return None
        src, to = source_node(case), r.target_address
        if src is None or to is None:
            return None
        held = [(n, i) for n in case.topology.nodes.values()
                if (i := holding(n, to)) is not None and i.kind == "loopback"]
        if not held or any(n.name == src.name for n, _ in held):
            return None
        owner, _ = held[0]
        s_addr = source_address(case)
        if s_addr is None:
            return None
        found = first_hop_without_route(case, src, s_addr, to)
        if found is None:
            return None
        hop, lookups = found
        dropped = case.live.window.delta(hop.netns, HOP_NO_ROUTE)
        told = r.observation is Observation.ICMP_ERROR and any(
            i.address is not None and str(i.address) in r.detail for i in hop.interfaces)
        if not dropped and not told:
            return None  # the lookup fails, but nothing says a packet got there
        evidence = [f"{owner.name} lo holds {to} (a service address: on no LAN)", *lookups]
        if dropped:
            evidence.append(f"{hop.name}: {HOP_NO_ROUTE} +{dropped} while the probes ran "
                            "(packets it had no route for)")
        evidence.append(probe_line(case))
        leg = next((i for i in owner.interfaces if i.kind != "loopback"
                    and i.address is not None and i.address.version == to.version), None)
        via = str(leg.address) if leg is not None else f"<{owner.name}'s address>"
        return Explained(finding=Finding(
            id=self.id,
            summary=f"{to} is {owner.name}'s service address on lo, and {hop.name} has no "
                    "route to it",
            evidence=tuple(evidence),
            fix=f"on {hop.name}: ip route add {to}/{to.max_prefixlen} via {via} (and on "
                "every router on the way), or announce it",
        ), strength=Strength.LOOKUP, arrives=(hop.name,), at=hop.name)
