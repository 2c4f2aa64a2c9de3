"""A lab machine or host without a default route, though its LAN has a gateway.

`default_route: false` (or a default removed by hand) leaves a node with its connected
routes only: everything off its own subnets is unreachable from it, whatever the LAN's
router could do. Two ways it shows:

- it is probed from another subnet: the requests arrive (the target's counters moved),
  its replies have no route (`ip route get SRC from TARGET` fails);
- it probes another subnet itself: the kernel refuses the probe's route lookup (a "could
  not test" error, still explained).

Said only when that lookup failed with ENETUNREACH and the node's main table, read live,
has no default route: the table is the evidence, line by line. A node on a LAN without a
gateway has no default to miss: that is no-route's.
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import (
    on_link,
    probe_line,
    source_address,
    source_node,
    target_node,
)
from netcheck.diagnose.rules._rpcheck import arrival_evidence
from netcheck.model.plan import NodeKind
from netcheck.model.results import Finding, Node, Observation

# Lab nodes the scenario gives (or denies) a default route: containers get Docker's.
_LAB_NODES = (NodeKind.MACHINE, NodeKind.HOST)
# Counters in the target's namespace that move only when the request got in.


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


def _gateways(case: Case, node: Node, version: int) -> list[str]:
    """The gateways of the LANs the node is on (the defaults it could have had)."""
    return [str(lan.gateway) for lan in case.plan.lab.lans
            if lan.gateway is not None and lan.gateway.version == version
            and any(i.network == lan.name for i in node.interfaces)]


def _table(case: Case, node: Node, version: int) -> list[str] | None:
    """The node's main table read live, or None when it holds a default route."""
    table = case.live.routes(node.netns, version)
    return None if any(line.startswith("default") for line in table) else table


def misses_default_back(case: Case) -> bool:
    """The probe's target is a lab machine or host on a LAN with a gateway, its route back
    to the source fails (ENETUNREACH) and its table, read live, has no default route (so
    no-route leaves the probe to this rule)."""
    return _back(case) is not None


def _back(case: Case) -> tuple[Node, str, list[str], str] | None:
    """(target, its failed lookup back, its table, the source address) when it misses a
    default route its LAN offers."""
    r = case.result
    dst, s_addr = target_node(case), source_address(case)
    if (dst is None or dst.kind not in _LAB_NODES or s_addr is None
            or r.target_address is None or r.observation not in (Observation.SILENT,
                                                                  Observation.ICMP_ERROR)
            or not _gateways(case, dst, s_addr.version)):
        return None
    back = case.live.route_lookup(dst.netns, str(s_addr), src=str(r.target_address))
    if back.errno != errno.ENETUNREACH:
        return None
    table = _table(case, dst, s_addr.version)
    if table is None:
        return None
    return dst, back.text, table, str(s_addr)


class NoDefaultRoute:
    id = "no-default-route"
    needs = (
        "a lab machine or host as source, its route lookup for an address off its subnets "
        "failing (ENETUNREACH), and its main table, read live, without a default route"
    )
    remedy = "a default route via the LAN's gateway (or a route to the target's subnet)"

    def explain(self, case: Case) -> Explained | None:
        back = _back(case)
        if back is not None:
            return self._replies(case, *back)
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

    def _replies(self, case: Case, dst: Node, lookup: str, table: list[str],
                 s_addr: str) -> Explained | None:
        r = case.result
        arrival = arrival_evidence(case, dst)
        if arrival is None:
            return None  # rp_filter dropped it, or nothing at the target says it got in
        evidence = [f"{dst.name}: {lookup}",
                    f"{dst.name}: main table (ip route, read live): "
                    f"{'; '.join(table) if table else '(empty)'}", *arrival]
        evidence.append(probe_line(case))
        assert r.target_address is not None
        via = _gateways(case, dst, r.target_address.version)[0]
        return Explained(finding=Finding(
            id=self.id,
            summary=f"{dst.name} has no default route: requests from {s_addr} arrive, its "
                    "replies have no route back",
            evidence=tuple(evidence),
            fix=f"on {dst.name}: ip route add default via {via} (its LAN's gateway; in a "
                "scenario: drop default_route: false, or add a route back under routes:)",
        ), strength=Strength.LOOKUP, arrives=(dst.name,), at=dst.name)
