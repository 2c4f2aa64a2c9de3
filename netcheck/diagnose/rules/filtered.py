"""A packet filter dropped (or rejected) the probe: silence plus NETFILTER_DROP, not a RST.

Told apart from a closed port by the kernel itself: the firewall rule's own packet counter
moved in the node's namespace, and the drop reason recorded while the probe ran says
NETFILTER_DROP; a closed port answers instead (RST / ICMP port unreachable).
"""

from __future__ import annotations

from netcheck.diagnose.base import Case, Explained
from netcheck.diagnose.rules._common import (
    FirewallHit,
    firewall_hits,
    probe_line,
    source_node,
    target_node,
)
from netcheck.model.plan import NodeKind
from netcheck.model.results import Finding, Observation


class Filtered:
    id = "filtered"
    needs = (
        "DROP/REJECT rules on the path whose packet counters matched the probe"
    )
    remedy = "allow the probe's protocol/port in the named chain"

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        if r.observation not in (Observation.SILENT, Observation.REFUSED,
                                 Observation.ICMP_ERROR):
            return None
        hits: list[FirewallHit] = []
        dst, src = target_node(case), source_node(case)
        if dst is not None:
            hits += firewall_hits(case, dst, ("INPUT",))
        if src is not None:
            hits += firewall_hits(case, src, ("OUTPUT",))
        for node in case.topology.nodes.values():
            if node.kind is NodeKind.ROUTER:
                hits += firewall_hits(case, node, ("FORWARD",))
        if r.observation is Observation.REFUSED:
            hits = [h for h in hits if h.target == "REJECT"]
        if not hits:
            return None
        hit = hits[0]
        evidence = [f"{hit.node}: iptables -L {hit.chain} -v: {hit.line}"]
        drops = case.live.window.drops_where(reason="NETFILTER_DROP")
        if drops and hit.target == "DROP":
            evidence.append(f"kernel drop reason: {len(drops)} x {drops[0]} ({drops[0].location})")
        evidence.append(probe_line(case))
        if hit.target == "DROP":
            evidence.append("no RST and no ICMP port unreachable came back: a closed port "
                            "would have answered")
        verb = "drops" if hit.target == "DROP" else "rejects"
        return Explained(finding=Finding(
            id=self.id,
            summary=f"a firewall rule on {hit.node} ({hit.chain}) {verb} {r.probe} "
                    f"from {r.source}",
            evidence=tuple(evidence),
            fix=f"on {hit.node}: allow it before that rule, e.g. iptables -I {hit.chain} "
                f"-s {r.source_address or case.result.source} -j ACCEPT (narrowed to the port)",
        ), at=hit.node)
