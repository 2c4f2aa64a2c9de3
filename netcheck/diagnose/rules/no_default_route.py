"""A lab machine or host without a default route probes an address off its subnets.

`default_route: false` (or a default removed by hand) leaves a node with its connected
routes only: everything off its own subnets is unreachable from it, whatever the LAN's
router could do. Said only when the kernel refused the probe's own route lookup
(ENETUNREACH) and the node's main table, read live, has no default route: the table is
the evidence, line by line.
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import on_link, probe_line, source_node
from netcheck.model.plan import NodeKind
from netcheck.model.results import Finding, Observation

# Lab nodes the scenario gives (or denies) a default route: containers get Docker's.
_LAB_NODES = (NodeKind.MACHINE, NodeKind.HOST)


def lacks_default(case: Case) -> bool:
    """The probe's source is a lab machine or host whose own route lookup for an address
    off its subnets failed (ENETUNREACH), and its main table, read live, has no default
    route (so no-route leaves the probe to this rule)."""
    r = case.result
    src = source_node(case)
    if (src is None or src.kind not in _LAB_NODES or r.observation is not Observation.ERROR
            or "route" not in r.detail or r.target_address is None
            or on_link(src, r.target_address) is not None):
        return False
    if case.live.route_lookup(src.netns, str(r.target_address)).errno != errno.ENETUNREACH:
        return False
    table = case.live.routes(src.netns, r.target_address.version)
    return not any(line.startswith("default") for line in table)


class NoDefaultRoute:
    id = "no-default-route"
    needs = (
        "a lab machine or host as source, its route lookup for an address off its subnets "
        "failing (ENETUNREACH), and its main table, read live, without a default route"
    )
    remedy = "a default route via the LAN's gateway (or a route to the target's subnet)"

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        src = source_node(case)
        if src is None or r.target_address is None or not lacks_default(case):
            return None
        lookup = case.live.route_lookup(src.netns, str(r.target_address))
        table = case.live.routes(src.netns, r.target_address.version)
        lans = [u for u in case.plan.lab.lans
                if any(i.network == u.name for i in src.interfaces)]
        gateways = [str(lan.gateway) for lan in lans if lan.gateway is not None
                    and lan.gateway.version == r.target_address.version]
        via = gateways[0] if gateways else "<a router on its LAN>"
        shown = "; ".join(table) if table else "(empty)"
        return Explained(finding=Finding(
            id=self.id,
            summary=f"{src.name} has no default route: {r.target_address} is off its "
                    "subnets and nothing in its table leads there",
            evidence=(
                f"{src.name}: {lookup.text}",
                f"{src.name}: main table (ip route, read live): {shown}",
                probe_line(case),
            ),
            fix=f"on {src.name}: ip route add default via {via} (in a scenario: drop "
                "default_route: false, or add the route under routes:)",
        ), strength=Strength.LOOKUP)
