"""A machine address off its LAN's subnet that the other side has no route back to.

A node may hold an address outside its LAN's subnet and reach the LAN by on-link routes
(`ip addr add 192.168.9.5/32 dev eth0; ip route add 10.62.0.0/24 dev eth0`): its own
side works, but every peer answering it needs a route to that address too (on-link on
the LAN, or via a router that has one). Said when the probe's source holds such an
address on a LAN interface (read at build time: a host prefix off the LAN's subnet), and
the replies' way back, walked by the kernel's lookups from the target, fails at the target
itself (its Ip.OutNoRoutes moved) or at a router on the way (its IpExt.InNoRoutes moved).
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import holding, probe_line, source_address, source_node
from netcheck.diagnose.rules.unrouted_address import HOP_NO_ROUTE, first_hop_without_route
from netcheck.model.results import Finding, Observation

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)


class OffSubnetNoRouteBack:
    id = "off-subnet-no-route-back"
    needs = (
        "the source's address held on a LAN interface outside that LAN's subnet (on-link "
        "routes), and the reply's lookup back to it failing at the target (Ip.OutNoRoutes "
        "moved) or at a router on the way (IpExt.InNoRoutes moved)"
    )
    remedy = "a route back to the off-subnet address on the peer or on its router"

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        if r.observation not in (Observation.SILENT, Observation.ICMP_ERROR):
            return None
        src, s_addr = source_node(case), source_address(case)
        if src is None or s_addr is None or r.target_address is None:
            return None
        iface = holding(src, s_addr)
        if iface is None or iface.kind == "loopback" or iface.prefix is None:
            return None
        lan = next((u for u in case.plan.lab.lans if u.name == iface.network), None)
        if (lan is None or iface.prefix.prefixlen != s_addr.max_prefixlen
                or (s_addr.version == lan.subnet.version and s_addr in lan.subnet)):
            return None  # on its LAN's subnet: an ordinary address
        dst = next((n for n in case.topology.nodes.values()
                    if holding(n, r.target_address) is not None), None)
        if dst is None:
            return None
        w = case.live.window
        back = case.live.route_lookup(dst.netns, str(s_addr), src=str(r.target_address))
        lookups = [f"{dst.name}: {back.text}"]
        if back.errno in _NO_ROUTE:
            hop, moved = dst, w.delta(dst.netns, "Ip.OutNoRoutes")
            counter = "Ip.OutNoRoutes"
        else:
            found = first_hop_without_route(case, dst, r.target_address, s_addr)
            if found is None:
                return None
            hop, lookups = found
            moved, counter = w.delta(hop.netns, HOP_NO_ROUTE), HOP_NO_ROUTE
        if not moved:
            return None  # the lookup fails, but nothing says a reply met it
        leg = next((i for i in hop.interfaces if i.network == lan.name), None)
        dev = leg.ifname if leg is not None else f"<{hop.name}'s leg on {lan.name}>"
        return Explained(finding=Finding(
            id=self.id,
            summary=f"{src.name}'s {s_addr} is off lan {lan.name}'s {lan.subnet}, and "
                    f"{hop.name} has no route back to it",
            evidence=(
                f"{src.name} {iface.ifname} holds {s_addr}/{s_addr.max_prefixlen} on lan "
                f"{lan.name} ({lan.subnet}): reached by on-link routes on its side only",
                *lookups,
                f"{hop.name}: {counter} +{moved} while the probes ran (packets it could not "
                "route)",
                probe_line(case),
            ),
            fix=f"on {hop.name}: ip route add {s_addr}/{s_addr.max_prefixlen} dev {dev} "
                f"(on-link on lan {lan.name}), or give {src.name} an address of "
                f"{lan.subnet}",
        ), strength=Strength.LOOKUP, at=hop.name)
