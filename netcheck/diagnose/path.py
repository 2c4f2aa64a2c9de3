"""Where the packet died: a silent or refused probe's path, hop by hop, as observed.

The path is the one the kernel would take: a route lookup in the source's namespace, then
in each namespace holding the next hop (`ip route get DST from SRC iif DEV`, as for a
packet arriving there), until the namespace holding the target; then the same back from
the target for the reply. Each hop is judged by observation only: the probe is sent again
on its own (`LiveState.resend`), and a hop is
- dropped here: the kernel's drop tracepoint names a drop on the device the packet arrives
  on there (tied to that namespace by its counters, or by the device name being the only
  one of the run), or a drop counter of that namespace moved and the next hop saw nothing;
- seen: a counter of that namespace moved (packets received, forwarded, sent);
- never reached: the namespace's counters were read and nothing moved;
- not observed: nothing could be read there (IPv6 and ARP move no counter netcheck reads,
  a remote container, a probe that could not be re-sent).
Counters are per namespace and the re-sent probe is the only one in flight, so a delta is
that packet's doing; a namespace whose counters also move over an equal wait with nothing
sent (a listener retransmitting, multicast) is not observed. Never is a hop called seen
because a later one was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from netcheck.diagnose.base import Case
from netcheck.diagnose.live import Resent, RouteAnswer
from netcheck.diagnose.rules._common import (
    holding,
    ip_or_none,
    kind_of,
    source_address,
    source_node,
    target_node,
)
from netcheck.diagnose.tracefs import Drop
from netcheck.model.plan import IPAddress
from netcheck.model.results import Hop, HopState, Node, Observation, PacketPath
from netcheck.model.sites import SiteNotLocal
from netcheck.probes.base import ProbeTask

log = logging.getLogger(__name__)

MAX_HOPS = 12
# Each re-send waits CONTROL_WAIT + RESEND_TIMEOUT: a run with more silent probes than this
# gets routes without observations for the rest (said in the path's note).
MAX_RESENDS = 16
WALKED = (Observation.SILENT, Observation.REFUSED, Observation.ICMP_ERROR)

# IPv4 counters of /proc/net/snmp and netstat: the source sent it (raw sockets with a
# header of their own count no OutRequests)...
_SENT = ("Ip.OutTransmits", "Ip.OutRequests", "Icmp.OutEchos", "Tcp.OutSegs",
         "Udp.OutDatagrams")
# ...a packet got into a namespace (any IPv4: also broadcast and multicast, so on its own
# it is no sign of the probe)...
_THERE = ("Ip.InReceives", "Ip.ForwDatagrams")
# ...a router forwarded one (multicast and broadcast are not forwarded)...
_FORWARDED = ("Ip.ForwDatagrams",)
# ...the target took in a request of the probe's kind, or the source a reply to it: the
# kind's own `counters` (netcheck/probes/kinds)...
# ...or was dropped there (the counter, what it means).
_DROPS = {
    "TcpExt.IPReversePathFilter": "reverse-path filter",
    "Ip.InAddrErrors": "not its address and not forwarding",
    "IpExt.InNoRoutes": "no route to forward it",
    "Ip.OutNoRoutes": "no route for the packet it sends",
    "Ip.InDiscards": "discarded on input",
    "Ip.OutDiscards": "discarded on output",
    "Ip.InHdrErrors": "bad header (TTL exceeded or malformed)",
    "Ip.FragFails": "too big to forward with DF set",
}
# Drop reasons that are routine noise, never a probe's death (IPv6 multicast on link-up).
_NOISE_FUNCS = ("ip6_mc_input",)
# The counter that ties a traced drop reason to one namespace.
_REASON_COUNTER = {"IP_RPFILTER": "TcpExt.IPReversePathFilter",
                   "IP_INADDRERRORS": "Ip.InAddrErrors", "IP_INNOROUTES": "IpExt.InNoRoutes"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One place on the route: a node (or an address no node holds) and how it got there."""

    node: Node | None
    name: str
    iif: str | None
    direction: str
    lookup: str | None = None  # the route lookup made there, as evidence


def _holder(case: Case, address: IPAddress, skip: set[str]) -> tuple[Node, str] | None:
    for node in case.topology.nodes.values():
        if node.name in skip:
            continue
        iface = holding(node, address)
        if iface is not None:
            return node, iface.ifname
    return None


def route(case: Case, start: Node, src: IPAddress, dst: IPAddress, end: Node | None,
          direction: str) -> list[Step]:
    """The namespaces a packet from `src` to `dst` crosses, by the kernel's route lookups
    in each (`start` first; the walk stops at `end`, at a lookup that fails, or at an
    address no node of the run holds)."""
    answer: RouteAnswer = case.live.route_lookup(start.netns, str(dst), src=str(src))
    steps = [Step(node=start, name=start.name, iif=None, direction=direction,
                  lookup=f"{start.name}: {answer.text}")]
    visited = {start.name}
    for _ in range(MAX_HOPS):
        if answer.errno:
            break
        hop = ip_or_none(answer.gateway) or dst
        found = _holder(case, hop, visited)
        if found is None:
            steps.append(Step(node=None, name=str(hop), iif=None, direction=direction,
                              lookup=f"no node of this run holds {hop}"))
            break
        node, iif = found
        visited.add(node.name)
        if holding(node, dst) is not None or (end is not None and node.name == end.name):
            steps.append(Step(node=node, name=node.name, iif=iif, direction=direction))
            return steps
        answer = case.live.route_lookup(node.netns, str(dst), src=str(src), iif=iif)
        steps.append(Step(node=node, name=node.name, iif=iif, direction=direction,
                          lookup=f"{node.name}: {answer.text}"))
    if end is not None and end.name not in visited and steps[-1].node is not None:
        # The kernel's way stops short (a lookup refused it): the packet was still going
        # to `end`, whose own counters say whether anything got there.
        into = holding(end, dst)
        steps.append(Step(node=end, name=end.name, iif=None if into is None else into.ifname,
                          direction=direction,
                          lookup=f"{end.name}: the route past {steps[-1].name} is not known"))
    return steps


def _task(case: Case, src: Node, dst: Node | None) -> ProbeTask:
    r = case.result
    exp = case.expectation
    pinned = exp.source_via is not None or exp.source_address is not None
    assert r.target_address is not None
    return ProbeTask(
        probe_id=f"{r.probe_id}#path", source=r.source, source_site=src.site,
        target=r.target, target_address=r.target_address, probe=r.probe,
        source_address=r.source_address if pinned else None,
        target_node=None if dst is None else dst.name,
    )


def _netns(node: Node | None) -> str | None:
    if node is None:
        return None
    try:
        return node.netns
    except SiteNotLocal:
        return None


def _quiet(resent: Resent, step: Step | None) -> bool:
    """The namespace was read during the re-send and no packet got in."""
    path = None if step is None else _netns(step.node)
    if path is None or path not in resent.deltas:
        return False
    return not any(resent.deltas[path].get(c) for c in _THERE)


def _attribute(case: Case, steps: Sequence[Step], resent: Resent,
               ipv4: bool) -> dict[int, tuple[list[Drop], str]]:
    """Traced drops tied to the steps they happened at: step index -> (drops, why tied).

    The tracepoint names the device a dropped packet came in on, not its namespace. A drop
    is tied to a step whose arriving device has that name when the name is the only one of
    the run, or when the counter for that drop reason moved in the step's namespace; with
    several candidates and no such counter, to the last candidate that received packets
    if the next step received none (the packet got past the others)."""
    wanted = ("IPv4", "ARP") if ipv4 else ("IPv6",)
    out: dict[int, tuple[list[Drop], str]] = {}

    def moved(i: int) -> Mapping[str, int]:
        path = _netns(steps[i].node)
        return {} if path is None else resent.deltas.get(path, {})

    for d in resent.drops:
        if d.dev is None or d.function in _NOISE_FUNCS or d.protocol not in wanted:
            continue
        cands = [i for i, st in enumerate(steps) if st.iif == d.dev and st.node is not None]
        if not cands:
            continue
        holders = sum(1 for n in case.topology.nodes.values()
                      if any(i.ifname == d.dev for i in n.interfaces))
        tie = _REASON_COUNTER.get(d.reason)
        tied = [i for i in cands if tie is not None and moved(i).get(tie)]
        if tied:
            picks, why = tied, f"{tie} moved in this namespace"
        elif holders == 1:
            picks, why = cands, f"the only device named {d.dev} in this run"
        else:
            got_in = [i for i in cands if moved(i).get("Ip.InReceives")]
            last = [i for i in got_in[-1:]
                    if i + 1 >= len(steps) or _quiet(resent, steps[i + 1])]
            picks = last
            why = (f"{holders} namespaces of this run have a {d.dev}: this is the last on "
                   "the path that received the packet")
        for i in picks:
            out.setdefault(i, ([], why))[0].append(d)
    return out


def _dropped_hop(step: Step, drops: Sequence[Drop], why: str,
                 evidence: Sequence[str]) -> Hop:
    d = drops[0]
    return Hop(node=step.name, state=HopState.DROPPED, iif=step.iif, direction=step.direction,
               reason=d.reason, location=d.location,
               evidence=(f"kernel drop: {len(drops)} x {d} ({d.location}; tied to "
                         f"{step.name}: {why})", *evidence))


def _signs(case: Case, steps: Sequence[Step], i: int, target: int) -> tuple[str, ...]:
    """The counters that say this probe's packet was at step `i`: sent at the source, a
    request of its kind at the target, a reply at the source again, forwarded between."""
    counters = kind_of(case).counters
    if i == 0:
        return _SENT
    if i == target:
        return counters.request
    if i == len(steps) - 1 and steps[i].direction == "reply":
        return counters.reply
    return _FORWARDED


def _observe(case: Case, steps: Sequence[Step], resent: Resent | None,
             counted: bool, target: int) -> list[Hop]:
    """Judge each step of the request and reply by what moved during the re-send."""
    ipv4 = case.result.target_address is not None and case.result.target_address.version == 4
    tied = {} if resent is None else _attribute(case, steps, resent, ipv4)
    # Namespaces the request crossed after leaving the source: their counters count the
    # request too, so they say nothing about a reply crossing them again.
    crossed = {p for st in steps[1:] if st.direction == "request"
               and (p := _netns(st.node)) is not None}

    def quiet_after(i: int) -> bool:
        for later in steps[i + 1:]:
            if later.direction == "reply" and _netns(later.node) in crossed:
                continue
            assert resent is not None
            return _quiet(resent, later)
        return True

    hops: list[Hop] = []
    for i, step in enumerate(steps):
        path = _netns(step.node)
        moved = None if resent is None or path is None else resent.deltas.get(path)
        where = [] if step.lookup is None else [step.lookup]
        drops, why = tied.get(i, ([], ""))
        busy = None if resent is None or path is None else resent.noise.get(path, {})
        if busy and any(busy.get(c) for c in (*_THERE, *_SENT, *_DROPS)) and not drops:
            hops.append(Hop(node=step.name, state=HopState.NOT_OBSERVED, iif=step.iif,
                            direction=step.direction,
                            evidence=(f"{step.name}: its counters moved with nothing sent too ("
                                      + ", ".join(f"{k} +{v}" for k, v in sorted(busy.items())
                                                  if k in (*_THERE, *_SENT, *_DROPS))
                                      + "): other traffic there", *where)))
            continue
        if moved is not None and step.direction == "reply" and path in crossed and not drops:
            hops.append(Hop(node=step.name, state=HopState.NOT_OBSERVED, iif=step.iif,
                            direction=step.direction,
                            evidence=(f"{step.name}: its counters count the request's pass "
                                      "through it as well", *where)))
            continue
        if moved is None or not counted:
            if drops:
                hops.append(_dropped_hop(step, drops, why, where))
                continue
            reason = ("no node of this run holds it" if step.node is None
                      else "nothing readable here" if resent is not None and moved is None
                      else "no counter netcheck reads counts this kind of packet")
            hops.append(Hop(node=step.name, state=HopState.NOT_OBSERVED, iif=step.iif,
                            direction=step.direction, evidence=(reason, *where)))
            continue
        assert resent is not None
        there = [f"{c} +{moved[c]}" for c in _signs(case, steps, i, target) if moved.get(c)]
        got_in = moved.get("Ip.InReceives", 0)
        dropped = [f"{c} +{moved[c]} ({what})" for c, what in _DROPS.items() if moved.get(c)]
        received = [f"Ip.InReceives +{got_in}"] if got_in and dropped else []
        evidence = tuple(f"{step.name}: {line} while the probe was re-sent alone"
                         for line in (*there, *received, *dropped))
        if drops:
            hops.append(_dropped_hop(step, drops, why, (*evidence, *where)))
        elif dropped and (there or got_in) and quiet_after(i):
            hops.append(Hop(node=step.name, state=HopState.DROPPED, iif=step.iif,
                            direction=step.direction, counter=dropped[0].split(" (")[0],
                            evidence=(*evidence, *where)))
        elif there:
            hops.append(Hop(node=step.name, state=HopState.SEEN, iif=step.iif,
                            direction=step.direction, evidence=(*evidence, *where)))
        elif i == 0:
            # A raw socket writing its own IP header is counted by Ip.OutTransmits only
            # (kernel 6.3+): silence here is no observation either way.
            hops.append(Hop(node=step.name, state=HopState.NOT_OBSERVED, iif=step.iif,
                            direction=step.direction,
                            evidence=(f"{step.name}: no send counter moved (a raw socket's "
                                      "own-header send is counted by Ip.OutTransmits only, "
                                      "kernel 6.3+)", *where)))
        else:
            hops.append(Hop(node=step.name, state=HopState.NOT_REACHED, iif=step.iif,
                            direction=step.direction,
                            evidence=(f"{step.name}: none of "
                                      f"{', '.join(_signs(case, steps, i, target))} moved "
                                      "while the probe was re-sent alone", *where)))
    return hops


def walk(case: Case, *, resend: bool = True) -> PacketPath | None:
    """The observed path of this case's probe; None when it has no path to walk (no
    source or target address, a probe that was answered or could not be sent)."""
    r = case.result
    if r.observation not in WALKED or r.target_address is None:
        return None
    src, dst = source_node(case), target_node(case)
    s_addr = source_address(case)
    if src is None or s_addr is None:
        return None
    kind = kind_of(case)
    if kind.asks_server:
        # The query went to the node's resolver, not to the name's address: walking the
        # route to the target would describe a packet that was never sent.
        word = r.probe.kind
        return PacketPath(hops=(Hop(node=src.name, state=HopState.NOT_OBSERVED,
                                    evidence=(f"a {word} query goes to the resolver",)),),
                          note=f"a {word} probe's path (to its resolver) is not walked")
    forward = route(case, src, s_addr, r.target_address, dst, "request")
    back: list[Step] = []
    if dst is not None and forward[-1].node is not None and forward[-1].name == dst.name:
        back = route(case, dst, r.target_address, s_addr, src, "reply")
    notes: list[str] = []
    resent: Resent | None = None
    if not resend:
        notes.append(f"not re-sent: a run re-sends at most {MAX_RESENDS} silent probes, "
                     "unexpected silences first, and only a few of its expected ones")
    else:
        spaces = sorted({p for s in (*forward, *back) if (p := _netns(s.node)) is not None})
        resent = case.live.resend(case.topology.run_id, _task(case, src, dst), spaces)
        notes.extend(resent.problems)
        if resent.result is not None:
            notes.append(f"re-sent alone: {resent.result.observation.value}")
            if resent.result.observation is Observation.ANSWERED:
                notes.append("the silence did not repeat: the hops show the answered re-send")
    # ARP (a link-layer frame) and IPv6 move no counter netcheck reads: only traced drops
    # are observations.
    counted = not kind.link_layer and r.target_address.version == 4
    # One sequence: the request's hops, then the reply's after the target (drops are tied
    # to a hop over both, as one device name may sit on either).
    steps = forward if kind.link_layer else [*forward, *back[1:]]
    target = len(forward) - 1
    hops = _observe(case, steps, resent, counted, target)
    reached = dst is not None and hops[target].node == dst.name \
        and hops[target].state is HopState.SEEN
    if not reached:
        hops = hops[:len(forward)]
    elif (resent is not None and resent.result is not None and len(hops) > len(forward)
          and resent.result.observation is not Observation.SILENT
          and hops[-1].node == src.name):
        # The answer reached the probe's own socket: that is the observation at the source
        # (its kernel then frees the packet, e.g. a RST with NO_SOCKET for a raw probe).
        last = hops[-1]
        hops[-1] = replace(last, state=HopState.SEEN, reason=None, location=None, counter=None,
                           evidence=(f"{src.name}: the re-sent probe got "
                                     f"{resent.result.observation.value}: "
                                     f"{resent.result.detail}", *last.evidence))
    if (resent is not None and resent.result is not None
            and resent.result.observation is Observation.SILENT and len(hops) > len(forward)
            and hops[-1].node == src.name and hops[-1].state is HopState.SEEN):
        notes.append(f"packets came back into {src.name} yet the probe saw no answer: "
                     "one from another address or port than it asked")
    return PacketPath(hops=tuple(hops), note="; ".join(notes) or None)
