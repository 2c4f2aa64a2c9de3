"""Strict reverse-path filtering drops a packet whose way back leaves by another NIC.

The classic two-NIC host (seed 004): a request arrives on bond0.51, but the host's route
back to the sender leaves by bond0.136, so with rp_filter=1 the kernel calls the request a
martian and drops it; tcpdump shows it arriving, no reply ever leaves.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import probe_line, sysctl_dev
from netcheck.diagnose.rules._rpcheck import RpDrop, arp_failed, rp_drops
from netcheck.model.results import Finding, Observation

RP_COUNTER = "TcpExt.IPReversePathFilter"


def kernel_evidence(case: Case, drop: RpDrop) -> list[str]:
    """Counters, drop reasons and martian lines about this drop, from the probe window."""
    w = case.live.window
    lines: list[str] = []
    moved = w.delta(drop.node.netns, RP_COUNTER)
    if moved:
        lines.append(f"{drop.node.name}: {RP_COUNTER} +{moved} while the probes ran "
                     "(/proc/net/netstat in its namespace)")
    drops = w.drops_where(reason="IP_RPFILTER", dev=drop.iif)
    if drops:
        lines.append(f"kernel drop reason: {len(drops)} x {drops[0]} "
                     f"({drops[0].location})")
    martians = w.log_lines(f"martian source {drop.dst} from {drop.src}", f"dev {drop.iif}")
    if martians:
        lines.append(f"kernel log: {martians[0].strip()}")
    else:
        value, line = case.live.conf_effective(drop.node.netns, drop.iif, "log_martians")
        if value == 0:
            lines.append(f"no martian line: {line} (set it to 1 to have them logged)")
    return lines


def fix_for(drop: RpDrop) -> str:
    dev = sysctl_dev(drop.iif)
    via = f" via {drop.answer.gateway}" if drop.answer.gateway else ""
    return (
        f"on {drop.node.name}: sysctl -w net.ipv4.conf.{dev}.rp_filter=2 (loose mode: accept "
        f"a source reachable through any interface; the kernel applies max(conf/all, "
        f"conf/{drop.iif})), or policy routing so replies from {drop.dst} leave by "
        f"{drop.iif}: ip rule add from {drop.dst} table 100; ip route add {drop.src}{via} "
        f"dev {drop.iif} table 100"
    )


def evidence(case: Case, drop: RpDrop) -> list[str]:
    return [
        f"{drop.node.name}: {drop.answer.text}",
        f"{drop.node.name}: {drop.reverse.text} (the way back to {drop.src} leaves by "
        f"{drop.reverse_dev}, not {drop.iif})",
        f"{drop.node.name}: {drop.control.text} (arriving on {drop.reverse_dev} it would "
        "be accepted)",
        f"{drop.node.name}: {drop.effective_line}",
    ]


class RpFilter:
    id = "rp-filter"

    def explain(self, case: Case) -> Finding | None:
        if case.result.observation not in (Observation.SILENT, Observation.ICMP_ERROR):
            return None
        for drop in rp_drops(case):
            if drop.effective != 1:
                continue
            failed, _ = arp_failed(case, drop)
            seen = kernel_evidence(case, drop)
            if failed and not any(RP_COUNTER in s or "IP_RPFILTER" in s for s in seen):
                continue  # the ARP never got an answer: that is rp-filter-arp
            what = "request" if drop.direction == "request" else "reply"
            return Finding(
                id=self.id,
                summary=(
                    f"{drop.node.name} drops the {what} from {drop.src} arriving on "
                    f"{drop.iif}: strict rp_filter, and its route back to {drop.src} "
                    "leaves by another interface"
                ),
                evidence=(*evidence(case, drop), *seen, probe_line(case)),
                fix=fix_for(drop),
            )
        return None
