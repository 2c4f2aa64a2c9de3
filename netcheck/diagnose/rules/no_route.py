"""No route: the source has no route to the target, or the target none back to the source.

The second is the silent one: the request arrives, the reply has nowhere to go (a machine
without a default gateway on another subnet than the asker). It is said only when the
target's own counters show a request got in (ICMP echo requests or UDP datagrams received,
or packets that found no route) and the path walk saw the re-sent request arrive there;
and when the kernel says the request was dropped on arrival by rp_filter (a source with
no route at all is a martian in strict and loose mode),
it is not this rule's: that is rp-filter.

A third: a router on the way (any node the kernel's lookups forward through, one of several
routers in series) has no route for the request or for the reply. Walked by the kernel's
own lookups (`ip route get DST from SRC iif LEG` in each hop); said only when that hop's
lookup fails and its IpExt.InNoRoutes counter moved while the probes ran (it got packets it
could not route), and for the reply when the target's counters show the request got in.
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import (
    kind_of,
    probe_line,
    source_address,
    source_node,
    target_node,
)
from netcheck.diagnose.rules._rpcheck import arrival_evidence
from netcheck.diagnose.rules.docker_internal import only_internal
from netcheck.diagnose.rules.no_default_route import lacks_default, misses_default_back
from netcheck.diagnose.rules.unrouted_address import HOP_NO_ROUTE, first_hop_without_route
from netcheck.model.plan import IPAddress
from netcheck.model.results import Finding, Node, Observation

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)


class NoRoute:
    id = "no-route"
    needs = (
        "the source's route lookup failing, or the target's route lookup back failing while its"
        " own counters show the request got in (Icmp.InEchos, Udp.InDatagrams, Ip.OutNoRoutes), "
        "no rp_filter drop, and the packet-path walk observing the re-sent request at the target;"
        " or a router on the way (by the kernel's lookups hop by hop, with iif) whose lookup "
        "fails while its IpExt.InNoRoutes counter moved"
    )
    remedy = "a default gateway or a route to the other subnet (on each router on the way)"

    def explain(self, case: Case) -> Finding | Explained | None:
        r = case.result
        src, dst = source_node(case), target_node(case)
        if src is None or r.target_address is None:
            return None
        if r.observation is Observation.ERROR and "route" in r.detail:
            if only_internal(case):
                return None  # Docker gave it no way out on purpose: docker-internal
            if lacks_default(case):
                return None  # a lab node off its own subnets: no-default-route reads why
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
            return self.hop_without_route(case, src, dst, s_addr)
        if misses_default_back(case):
            return None  # a lab node that skips its LAN's gateway: no-default-route's
        arrival = arrival_evidence(case, dst)
        if arrival is None:
            # rp_filter dropped it on arrival, or nothing at the target says a request got
            # in: its missing route back may be true and still not why this probe died.
            return None
        evidence = [f"{dst.name}: {back.text}", *arrival]
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

    def hop_without_route(self, case: Case, src: Node, dst: Node,
                          s_addr: IPAddress) -> Explained | None:
        """A forwarding hop on the request's or the reply's way with no route onwards."""
        r = case.result
        assert r.target_address is not None
        if only_internal(case):
            return None  # an --internal network has no way out on purpose: docker-internal
        w = case.live.window
        for start, frm, to, direction in ((src, s_addr, r.target_address, "request"),
                                          (dst, r.target_address, s_addr, "reply")):
            if not any(lan.subnet.version == to.version and to in lan.subnet
                       for lan in case.plan.lab.lans):
                # Only a lab LAN's address: a Docker network's leaves its host NATed (by
                # Docker), so a router on the LAN has no route to it and needs none.
                continue
            found = first_hop_without_route(case, start, frm, to)
            if found is None:
                continue
            hop, lookups = found
            dropped = w.delta(hop.netns, HOP_NO_ROUTE)
            if not dropped:
                continue  # the lookup fails, but nothing says a packet got there
            evidence = [*lookups, f"{hop.name}: {HOP_NO_ROUTE} +{dropped} while the probes "
                                  "ran (packets it had no route for)"]
            if direction == "reply":
                arrived = [f"{n} +{m}" for n in kind_of(case).counters.arrived
                           if (m := w.delta(dst.netns, n))]
                if arrived:
                    evidence.append(f"{dst.name}: {', '.join(arrived)} while the probes ran "
                                    "(requests received)")
            evidence.append(probe_line(case))
            what = (f"{r.source}'s requests to {to}" if direction == "request"
                    else f"{dst.name}'s replies to {to}")
            finding = Finding(
                id=self.id,
                summary=f"{hop.name} forwards {what} but has no route to {to}",
                evidence=tuple(evidence),
                fix=f"on {hop.name}: add a route to {to}'s subnet via the next router "
                    f"(ip route add <subnet of {to}> via <next hop>)",
            )
            arrives = (dst.name,) if direction == "reply" else (hop.name,)
            return Explained(finding=finding, strength=Strength.LOOKUP, arrives=arrives,
                             at=hop.name)
        return None
