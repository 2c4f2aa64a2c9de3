"""Reverse-path filtering drops a packet whose source the node would not route back to
by the interface it came in on (strict, rp_filter=1) or by any interface at all (loose, 2).

The classic two-NIC host (seed 004): a request arrives on bond0.51, but the host's route
back to the sender leaves by bond0.136, so with rp_filter=1 the kernel calls the request a
martian and drops it; tcpdump shows it arriving, no reply ever leaves. Loose mode forgives
that, but still drops a source the node has no route to at all (a machine without a
default gateway); a transit router or a forwarding container host judges forwarded
packets the same way. The kernel says which: drop reason IP_RPFILTER, counter
TcpExt.IPReversePathFilter in the dropping node's namespace.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import probe_line, sysctl_dev
from netcheck.diagnose.rules._rpcheck import RP_COUNTER, RpDrop, arp_failed, kernel_saw, rp_drops
from netcheck.model.results import Finding, Observation

__all__ = ["RP_COUNTER", "RpFilter", "evidence", "fix_for", "kernel_evidence"]


def kernel_evidence(case: Case, drop: RpDrop) -> list[str]:
    """Counters, drop reasons and martian lines about this drop, from the probe window."""
    w = case.live.window
    lines = kernel_saw(case, drop)
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
    if drop.why == "no-route":
        return (
            f"on {drop.node.name}: give it a route back to {drop.src} (a default gateway, "
            f"or ip route add <{drop.src}'s subnet> via <a router on {drop.iif}'s LAN>); "
            f"rp_filter (strict or loose) drops a source it cannot route to at all. Or turn "
            f"the filter off for {drop.iif}: sysctl -w net.ipv4.conf.all.rp_filter=0 and "
            f"net.ipv4.conf.{dev}.rp_filter=0 (the kernel applies max(conf/all, conf/{dev}))"
        )
    what = f"from {drop.dst}" if not drop.transit else f"to {drop.src}"
    rule = (f"ip rule add from {drop.dst} table 100" if not drop.transit
            else f"ip rule add to {drop.src} table 100")
    return (
        f"on {drop.node.name}: sysctl -w net.ipv4.conf.{dev}.rp_filter=2 (loose mode: accept "
        f"a source reachable through any interface; the kernel applies max(conf/all, "
        f"conf/{drop.iif})), or policy routing so traffic {what} leaves by "
        f"{drop.iif}: {rule}; ip route add {drop.src} via <a router on {drop.iif}'s LAN> "
        f"dev {drop.iif} table 100"
    )


def evidence(case: Case, drop: RpDrop) -> list[str]:
    name = drop.node.name
    if drop.why == "no-route":
        return [
            f"{name}: {drop.answer.text}",
            f"{name}: {drop.reverse.text} (no route back to {drop.src} on any interface)",
            f"{name}: {drop.effective_line}",
        ]
    lines = [
        f"{name}: {drop.answer.text}",
        f"{name}: {drop.reverse.text} (the way back to {drop.src} leaves by "
        f"{drop.reverse_dev}, not {drop.iif})",
    ]
    if drop.control is not None:
        lines.append(f"{name}: {drop.control.text} (arriving on {drop.reverse_dev} it would "
                     "be accepted)")
    lines.append(f"{name}: {drop.effective_line}")
    return lines


def _summary(drop: RpDrop) -> str:
    what = "request" if drop.direction == "request" else "reply"
    how = "forwarded " if drop.transit else ""
    head = f"{drop.node.name} drops the {how}{what} from {drop.src} arriving on {drop.iif}: "
    if drop.why == "no-route":
        mode = "loose" if drop.effective == 2 else "strict"
        return head + f"rp_filter={drop.effective} ({mode}), and it has no route to {drop.src}"
    return head + f"strict rp_filter, and its route back to {drop.src} leaves by " \
        f"{drop.reverse_dev}"


class RpFilter:
    id = "rp-filter"
    needs = (
        "the kernel's route lookup with iif refusing the packet, the effective rp_filter, the "
        "route back (another interface, or none at all) and, first, the dropping namespace's "
        "TcpExt.IPReversePathFilter counter and IP_RPFILTER drop reasons"
    )
    remedy = (
        "loose mode (rp_filter=2) or policy routing for a mismatch; a route back for a source "
        "with no route at all"
    )

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in (Observation.SILENT, Observation.ICMP_ERROR):
            return None
        for drop in rp_drops(case):
            seen = kernel_evidence(case, drop)
            observed = kernel_saw(case, drop)
            if drop.why == "no-route":
                if not observed:
                    continue  # only the kernel's own word tells this drop from other martians
            elif drop.effective != 1:
                continue
            failed, _ = arp_failed(case, drop)
            if (failed or drop.arp_judge) and not observed:
                continue  # the ARP never got an answer: that is rp-filter-arp
            finding = Finding(
                id=self.id,
                summary=_summary(drop),
                evidence=(*evidence(case, drop), *seen, probe_line(case)),
                fix=fix_for(drop),
            )
            return Explained(finding=finding,
                             strength=Strength.KERNEL if observed else Strength.LOOKUP,
                             at=drop.node.name)
        return None
