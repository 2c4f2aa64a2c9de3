"""Wrong VLAN or segment: ARP gets no reply from a target that is up on another segment.

Proved, not assumed: the target's own link is up, and an ARP sent again from a node on the
target's segment is answered, while the source's went unanswered.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import (
    holding,
    kind_of,
    on_link,
    probe_line,
    segment,
    source_node,
    target_node,
)
from netcheck.diagnose.rules._vxlan import tunnel
from netcheck.model.plan import NodeKind, ProbeKind, ProbeSpec
from netcheck.model.results import Finding, Node, Observation
from netcheck.probes.base import ProbeTask


class NoL2Adjacency:
    id = "no-l2-adjacency"
    needs = (
        "the two ends on different L2 segments (parent/VLAN) of one subnet, the unanswered ARP,"
        " the target answering ARP from its own segment (re-probe)"
    )
    remedy = "put both ends on the same segment, or route between the segments"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.SILENT or r.target_address is None:
            return None
        src, dst = source_node(case), target_node(case)
        if src is None or dst is None:
            return None
        src_if = on_link(src, r.target_address)
        dst_if = holding(dst, r.target_address)
        if src_if is None or dst_if is None:
            return None  # not meant to be on one segment
        if not kind_of(case).resolves_neighbour:
            state = case.live.neighbours(src.netns).get(str(r.target_address))
            if state is None or not ("INCOMPLETE" in state[0] or "FAILED" in state[0]):
                return None
        src_seg, dst_seg = segment(case, src, src_if), segment(case, dst, dst_if)
        if src_seg == dst_seg or tunnel(case) is not None:
            return None  # one segment, or two joined by a VXLAN tunnel (vxlan_mismatch.py)
        link = case.live.link(dst.netns, dst_if.ifname)
        if link is None or link.operstate not in ("UP", "UNKNOWN"):
            return None
        evidence = [
            f"{src.name} {src_if.ifname} ({src_if.address}) sits on segment {src_seg}",
            f"{dst.name} {dst_if.ifname} ({dst_if.address}) is UP on segment {dst_seg}",
            probe_line(case),
        ]
        witness = self._witness(case, src, dst, dst_seg)
        if witness is not None:
            evidence.append(witness)
        return Finding(
            id=self.id,
            summary=f"{src.name} and {dst.name} share a subnet but not a segment "
                    f"({src_seg} vs {dst_seg}): ARP never reaches across",
            evidence=tuple(evidence),
            fix=f"put {src.name} on {dst_seg} (the parent/VLAN that carries "
                f"{dst_if.prefix or dst_if.address}), or route between the segments",
        )

    def _witness(self, case: Case, src: Node, dst: Node, dst_seg: str) -> str | None:
        """ARP the target again from a node on its own segment: up there, or not?"""
        r = case.result
        if case.live.reprobe is None or r.target_address is None:
            return None
        for node in sorted(case.topology.nodes.values(),
                           key=lambda n: (n.kind is not NodeKind.ROUTER, n.name)):
            if node.name in (src.name, dst.name) or node.host == dst.name:
                continue
            iface = on_link(node, r.target_address)
            if iface is None or segment(case, node, iface) != dst_seg:
                continue
            task = ProbeTask(
                probe_id=f"{r.probe_id}#witness", source=node.name, source_site=node.site,
                target=dst.name, target_address=r.target_address,
                probe=ProbeSpec(kind=ProbeKind.ARP),
            )
            got = case.live.reprobe([task], case.live.timeout)
            if got and got[0].observation is Observation.ANSWERED:
                return f"ARP from {node.name} on {dst_seg}: {got[0].detail}"
            return None
        return None
