"""Strict rp_filter also judges ARP requests: a who-has from a source whose route back
leaves by another interface is a martian, so no ARP reply is ever sent.

The tell-tale differences from rp-filter: no IP packet reaches the host, so the
IPReversePathFilter counter does not move; the asker's neighbour entry stays INCOMPLETE.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import probe_line
from netcheck.diagnose.rules._rpcheck import RP_COUNTER, arp_failed, rp_drops
from netcheck.diagnose.rules.rp_filter import evidence, fix_for
from netcheck.model.results import Finding, Observation


class RpFilterArp:
    id = "rp-filter-arp"
    needs = (
        "the route lookup with iif refusing the source, strict rp_filter, the unanswered "
        "neighbour entry, the rp_filter counter not moving"
    )
    remedy = "loose mode (rp_filter=2) or policy routing"

    def explain(self, case: Case) -> Finding | None:
        if case.result.observation is not Observation.SILENT:
            return None
        for drop in rp_drops(case):
            if (drop.effective != 1 or drop.why != "mismatch" or drop.direction != "request"
                    or drop.transit):
                continue
            failed, arp_line = arp_failed(case, drop)
            if not failed:
                continue
            w = case.live.window
            lines = [*evidence(case, drop)]
            if arp_line:
                lines.append(arp_line)
            moved = w.delta(drop.node.netns, RP_COUNTER)
            lines.append(f"{drop.node.name}: {RP_COUNTER} +{moved} (ARP is not counted there)")
            martians = w.log_lines(f"martian source {drop.dst} from {drop.src}",
                                   f"dev {drop.iif}")
            if martians:
                lines.append(f"kernel log: {martians[0].strip()}")
            lines.append(probe_line(case))
            return Finding(
                id=self.id,
                summary=(
                    f"{drop.node.name} ignores ARP from {drop.src} on {drop.iif}: strict "
                    f"rp_filter, and its route back to {drop.src} leaves by another interface"
                ),
                evidence=tuple(lines),
                fix=fix_for(drop),
            )
        return None
