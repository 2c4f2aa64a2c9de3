"""Big packets vanish: a link on the path has a smaller MTU than the endpoints believe, and
nothing sends back "fragmentation needed" (an overlay, a misconfigured underlay).

Evidence is measured, not guessed: DF pings of several sizes are sent again from the same
source to the same target (a k-ary search, a few rounds of one timeout each) to find the
largest payload that still passes, and the interface MTUs along the lab are listed.
"""

from __future__ import annotations

import contextlib
import logging

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import on_link, probe_line, source_node, target_node
from netcheck.diagnose.rules._vxlan import describe, path_vxlans
from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Finding, Node, Observation
from netcheck.model.sites import ProbeSite
from netcheck.probes.base import ProbeTask
from netcheck.runtime.naming import SWITCH, netns_path

log = logging.getLogger(__name__)
IP_ICMP_HEADERS = 28  # IPv4 20 + ICMP 8
WAYS = 6  # sizes tried per round


class MtuBlackhole:
    id = "mtu-blackhole"
    needs = (
        "a DF size search re-probed on the path, the interfaces' MTUs along it"
    )
    remedy = "make the MTUs agree along the path (or let ICMP frag-needed through)"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        # A DF probe of a size (`icmp/df/SIZE`): the search re-sends ICMP echoes.
        if (r.probe.size is None
                or r.observation is not Observation.SILENT or case.live.reprobe is None
                or r.target_address is None or r.target_address.version != 4):
            return None
        src = source_node(case)
        if src is None:
            return None
        largest = self._search(case, src.site, r.probe.size)
        if largest is None:
            return None  # even a small DF ping fails: not an MTU problem
        packet = largest + IP_ICMP_HEADERS
        evidence = [
            f"largest DF payload that passes {r.source}->{r.target_address}: {largest} bytes "
            f"(a {packet}-byte IP packet); {largest + 1} and above vanish",
            "no ICMP fragmentation-needed came back: the path drops big frames silently",
            probe_line(case),
        ]
        mtus = self._path_mtus(case, r.source_interface)
        evidence.extend(mtus)
        overlay = self._overlay(case, src, r.source_interface)
        cause = "a link on the path has a smaller MTU than the endpoints"
        if overlay is not None:
            cause, line = overlay
            evidence.append(line)
        return Finding(
            id=self.id,
            summary=f"packets above {packet} bytes from {r.source} to {r.target} are dropped "
                    f"silently: {cause}",
            evidence=tuple(evidence),
            fix=f"set the endpoints' MTU to {packet} (Docker: -o "
                f"com.docker.network.driver.mtu={packet}), or raise the MTU of the small link",
        )

    def _search(self, case: Case, site: ProbeSite, failed: int) -> int | None:
        """Largest passing payload below `failed`, or None if even 0 fails."""
        r = case.result
        low, high = 0, failed  # low: not yet known to pass; high: known to fail
        known_pass: int | None = None
        assert case.live.reprobe is not None
        rounds = 0
        while high - low > 1 or known_pass is None:
            rounds += 1
            if rounds > 8:
                break
            step = max(1, (high - low) // (WAYS + 1))
            sizes = sorted({min(high - 1, low + i * step) for i in range(WAYS + 1)})
            exp = case.expectation
            pinned = exp.source_via is not None or exp.source_address is not None
            tasks = [
                ProbeTask(
                    probe_id=f"{r.probe_id}#df{size}", source=r.source, source_site=site,
                    target=r.target, target_address=r.target_address,  # type: ignore[arg-type]
                    probe=ProbeSpec(kind=ProbeKind.ICMP, size=size),
                    # The search walks the pinned path, not the one an unbound socket takes.
                    source_address=r.source_address if pinned else None,
                )
                for size in sizes
            ]
            results = case.live.reprobe(tasks, case.live.timeout)
            passed = [s for s, res in zip(sizes, results, strict=True)
                      if res.observation is Observation.ANSWERED]
            failed_sizes = [s for s, res in zip(sizes, results, strict=True)
                            if res.observation is not Observation.ANSWERED]
            if not passed:
                if low == 0:
                    return None
                high = min(sizes)
                continue
            known_pass = max(passed)
            low = known_pass
            above = [s for s in failed_sizes if s > known_pass]
            high = min(above) if above else high
            if high - low <= 1:
                break
        log.debug("DF search %s: %s passes, %s fails", r.probe_id, known_pass, high)
        return known_pass

    def _overlay(self, case: Case, src: Node, src_if: str | None) -> tuple[str, str] | None:
        """The source's MTU against the VXLAN device its path crosses, both read live."""
        crossed = path_vxlans(case)
        near = on_link(src, case.result.target_address)
        iface = src_if or (near.ifname if near is not None else None)
        link = case.live.link(src.netns, iface) if iface and src.site.netns else None
        if not crossed or link is None:
            return None
        host, vx = min(crossed, key=lambda hv: hv[1].mtu)
        if link.mtu <= vx.mtu:
            return None
        return (f"{src.name} {link.ifname} MTU {link.mtu} is above the path MTU {vx.mtu} of "
                f"VXLAN device {host.name} {vx.ifname}",
                f"the path crosses {describe(host, vx)}")

    def _path_mtus(self, case: Case, src_if: str | None) -> list[str]:
        lines: list[str] = []
        r = case.result
        src, dst = source_node(case), target_node(case)
        if src is not None and src.site.netns is not None:
            near = on_link(src, r.target_address)
            iface = src_if or (near.ifname if near is not None else None)
            link = case.live.link(src.netns, iface) if iface else None
            if link is not None:
                lines.append(f"{src.name} {link.ifname} MTU {link.mtu}")
        if dst is not None and dst.site.netns is not None:
            for d_if in dst.interfaces:
                if d_if.address == r.target_address:
                    link = case.live.link(dst.netns, d_if.ifname)
                    if link is not None:
                        lines.append(f"{dst.name} {link.ifname} MTU {link.mtu}")
        biggest = max((int(x.rsplit(" ", 1)[1]) for x in lines), default=1500)
        small: list[str] = []
        places = {n.name: p for n in case.topology.nodes.values() if (p := n.site.netns)}
        with contextlib.suppress(ValueError):  # a docker run id is not a netns run id
            places["switch"] = netns_path(case.topology.run_id, SWITCH)
        for name, netns in sorted(places.items()):
            for li in case.live.links(netns):
                if li.ifname != "lo" and 0 < li.mtu < biggest:
                    small.append(f"{name} {li.ifname} MTU {li.mtu}")
        if small:
            lines.append("smaller links in the lab: " + ", ".join(small[:8]))
        return lines
