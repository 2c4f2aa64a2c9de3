"""No route: the source has no route to the target, or the target none back to the source.

The second is the silent one: the request arrives, the reply has nowhere to go (a machine
without a default gateway on another subnet than the asker). It is said only when the
target's own counters show a request got in (ICMP echo requests or UDP datagrams received,
or packets that found no route) and the path walk saw the re-sent request arrive there;
and when the kernel says the request was dropped on arrival by rp_filter (a source with
no route at all is a martian in strict and loose mode),
it is not this rule's: that is rp-filter.
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import (
    holding,
    kind_of,
    probe_line,
    source_address,
    source_node,
    target_node,
)
from netcheck.diagnose.rules._rpcheck import RP_COUNTER, RP_REASON, device_drops
from netcheck.diagnose.rules.docker_internal import only_internal
from netcheck.model.results import Finding, Observation

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)


class NoRoute:
    id = "no-route"
    needs = (
        "the source's route lookup failing, or the target's route lookup back failing while its"
        " own counters show the request got in (Icmp.InEchos, Udp.InDatagrams, Ip.OutNoRoutes), "
        "no rp_filter drop, and the packet-path walk observing the re-sent request at the target"
    )
    remedy = "a default gateway or a route to the other subnet"

    def explain(self, case: Case) -> Finding | Explained | None:
        r = case.result
        src, dst = source_node(case), target_node(case)
        if src is None or r.target_address is None:
            return None
        if r.observation is Observation.ERROR and "route" in r.detail:
            if only_internal(case):
                return None  # Docker gave it no way out on purpose: docker-internal
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
        w = case.live.window
        iface = holding(dst, r.target_address)
        if w.delta(dst.netns, RP_COUNTER) or (
            iface is not None and device_drops(case, dst, iface.ifname, RP_REASON)
        ):
            return None  # dropped on arrival by rp_filter: the request never got in
        evidence = [f"{dst.name}: {back.text}"]
        arrived: list[str] = []
        # Counters in the target's namespace that move only when the request got in.
        for name in kind_of(case).counters.arrived:
            moved = w.delta(dst.netns, name)
            if moved:
                arrived.append(f"{name} +{moved}")
        no_routes = w.delta(dst.netns, "Ip.OutNoRoutes")
        if not arrived and not no_routes:
            # Nothing at the target says a request got in: its missing route back may be
            # true and still not why this probe died (the request may never have arrived).
            return None
        if arrived:
            evidence.append(f"{dst.name}: {', '.join(arrived)} while the probes ran "
                            "(requests received)")
        if no_routes:
            evidence.append(f"{dst.name}: Ip.OutNoRoutes +{no_routes} while the probes ran "
                            "(packets it could not route)")
        evidence.append(probe_line(case))
        finding = Finding(
            id=self.id,
            summary=f"{dst.name} has no route back to {s_addr}: requests arrive, replies "
                    "cannot leave",
            evidence=tuple(evidence),
            fix=f"on {dst.name}: add a default gateway or a route to {s_addr}'s subnet "
                f"(ip route add default via <gateway on its LAN>)",
        )
        # "requests arrive": emitted only when the path walk observed one at the target.
        return Explained(finding=finding, strength=Strength.LOOKUP, arrives=(dst.name,),
                         at=dst.name)
