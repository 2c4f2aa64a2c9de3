"""No route: the source has no route to the target, or the target none back to the source.

The second is the silent one: the request arrives, the reply has nowhere to go (a machine
without a default gateway on another subnet than the asker).
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import probe_line, source_address, source_node, target_node
from netcheck.model.results import Finding, Observation

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)


class NoRoute:
    id = "no-route"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        src, dst = source_node(case), target_node(case)
        if src is None or r.target_address is None:
            return None
        if r.observation is Observation.ERROR and "route" in r.detail:
            lookup = case.live.route_lookup(src.netns, str(r.target_address))
            return Finding(
                id=self.id,
                summary=f"{r.source} has no route to {r.target_address}",
                evidence=(lookup.text, r.detail),
                fix="add a route or a default gateway on the source's network (subnet gateway)",
            )
        if r.observation not in (Observation.SILENT, Observation.ICMP_ERROR) or dst is None:
            return None
        s_addr = source_address(case)
        if s_addr is None:
            return None
        back = case.live.route_lookup(dst.netns, str(s_addr), src=str(r.target_address))
        if back.errno not in _NO_ROUTE:
            return None
        evidence = [f"{dst.name}: {back.text}"]
        arrived = case.live.window.delta(dst.netns, "Ip.InReceives")
        no_routes = case.live.window.delta(dst.netns, "Ip.OutNoRoutes")
        if arrived:
            evidence.append(f"{dst.name}: Ip.InReceives +{arrived} while the probes ran "
                            "(the requests did arrive)")
        if no_routes:
            evidence.append(f"{dst.name}: Ip.OutNoRoutes +{no_routes} (replies with no route)")
        evidence.append(probe_line(case))
        return Finding(
            id=self.id,
            summary=f"{dst.name} has no route back to {s_addr}: requests arrive, replies "
                    "cannot leave",
            evidence=tuple(evidence),
            fix=f"on {dst.name}: add a default gateway or a route to {s_addr}'s subnet "
                f"(ip route add default via <gateway on its LAN>)",
        )
