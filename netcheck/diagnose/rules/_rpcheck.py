"""The reverse-path check the rp-filter rules share: ask the kernel, with `iif`, at every
node the probe (or its reply) crosses.

`ip route get DST from SRC iif DEV` makes the kernel judge a packet from SRC arriving on
DEV exactly as it would judge a real one, rp_filter included, whether DST is the node's
own address or one it forwards to. Older kernels answer EXDEV ("Invalid cross-device
link"); since the drop-reason rework (6.13+) every martian answers EINVAL. So the answer
alone is not proof of an rp_filter drop; it is one in two shapes:
- `mismatch`: the best route back to SRC leaves by another device (strict mode, 1), and the
  same lookup arriving on that device succeeds, which pins the refusal on the mismatch;
- `no-route`: the node has no route to SRC at all. Strict and loose mode (2) both drop that
  source on any interface; only the kernel's own word (the IP_RPFILTER drop reason or the
  TcpExt.IPReversePathFilter counter of that namespace) tells this drop from other martians.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from netcheck.diagnose.base import Case
from netcheck.diagnose.live import RouteAnswer
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
from netcheck.model.results import Interface, Node

RP_COUNTER = "TcpExt.IPReversePathFilter"
RP_REASON = "IP_RPFILTER"
_MARTIAN = (errno.EXDEV, errno.EINVAL)
_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)
MAX_HOPS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class RpDrop:
    node: Node
    iif: str
    dst: IPAddress  # the packet's destination (the node's own address, or one it forwards to)
    src: IPAddress  # the packet's source, judged a martian
    answer: RouteAnswer  # the refusal
    effective: int | None
    effective_line: str
    reverse: RouteAnswer  # where the kernel would send a packet back to `src` (or its error)
    control: RouteAnswer | None  # mismatch: the same packet arriving on `reverse_dev`
    reverse_dev: str | None
    direction: str  # "request" (towards the target) or "reply" (back towards the source)
    why: str = "mismatch"  # "mismatch" or "no-route" (see the module doc)
    transit: bool = False  # the node forwards the packet (a router on the path)
    arp_judge: bool = False  # dst is the node's gateway address: it judges the source's ARP


def _check(case: Case, node: Node, iface: Interface, dst: IPAddress, src: IPAddress,
           direction: str, *, transit: bool = False, arp_judge: bool = False) -> RpDrop | None:
    answer = case.live.route_lookup(node.netns, str(dst), src=str(src), iif=iface.ifname)
    if answer.errno not in _MARTIAN:
        return None
    value, line = case.live.conf_effective(node.netns, iface.ifname, "rp_filter")
    if not value:
        return None  # rp_filter off there: some other martian, not this rule's
    reverse = reverse_lookup(case, node, dst, src, transit=transit)
    back_dev: str | None = None
    control: RouteAnswer | None = None
    if reverse.errno in _NO_ROUTE:
        why = "no-route"
    else:
        back_dev = case.live.ifname(node.netns, reverse.oif)
        if reverse.errno or back_dev is None or back_dev == iface.ifname:
            return None  # refused for another reason: the way back is the same device
        control = case.live.route_lookup(node.netns, str(dst), src=str(src), iif=back_dev)
        if control.errno:
            return None  # refused on every interface: some other martian rule
        why = "mismatch"
    return RpDrop(node=node, iif=iface.ifname, dst=dst, src=src, answer=answer,
                  effective=value, effective_line=line, reverse=reverse, control=control,
                  reverse_dev=back_dev, direction=direction, why=why, transit=transit,
                  arp_judge=arp_judge)


def reverse_lookup(case: Case, node: Node, dst: IPAddress, src: IPAddress, *,
                   transit: bool) -> RouteAnswer:
    """The kernel's own reverse-path lookup: fib_validate_source looks `src` up as a
    destination, from `dst`, with the policy rules applied (`ip route get SRC from DST`; an
    output lookup has iif lo, as the kernel's check does). A rule `from DST` can send the
    way back by another table, so a main-table lookup would guess wrong. A forwarded
    packet's `dst` is not the node's own and an output lookup refuses a foreign `from`:
    there the lookup is made without it (rules matching the forwarded destination as a
    source are not seen)."""
    if not transit:
        answer = case.live.route_lookup(node.netns, str(src), src=str(dst))
        if answer.errno in (0, *_NO_ROUTE):
            return answer
    return case.live.route_lookup(node.netns, str(src))


def _holder(case: Case, address: IPAddress, skip: set[str]) -> tuple[Node, Interface] | None:
    for node in case.topology.nodes.values():
        if node.name in skip:
            continue
        iface = holding(node, address)
        if iface is not None:
            return node, iface
    return None


def _walk(case: Case, start: Node, src: IPAddress, dst: IPAddress, end: Node,
          direction: str) -> list[RpDrop]:
    """Follow the kernel's route lookups from `start` towards `dst` (hop by hop, through the
    nodes holding each gateway) and check every node that forwards the packet."""
    out: list[RpDrop] = []
    seen = {start.name, end.name}
    gw = ip_or_none(case.live.route_lookup(start.netns, str(dst), src=str(src)).gateway)
    for n in range(MAX_HOPS):
        if gw is None:
            break
        hop = _holder(case, gw, seen)
        if hop is None:
            break
        node, iface = hop
        seen.add(node.name)
        if n == 0 and direction == "request" and iface.address is not None:
            # The first hop answers the source's ARP for the gateway; it judges the source
            # too (later hops get their ARP from the previous router, not the source).
            found = _check(case, node, iface, iface.address, src, direction, arp_judge=True)
            if found is not None:
                out.append(found)
        found = _check(case, node, iface, dst, src, direction, transit=True)
        if found is not None:
            out.append(found)
            break
        gw = ip_or_none(case.live.route_lookup(node.netns, str(dst), src=str(src), iif=iface.ifname)
                 .gateway)
    return out


def rp_drops(case: Case) -> list[RpDrop]:
    """Every place on the probe's path where rp_filter refuses it (or its reply)."""
    r = case.result
    src, dst = source_node(case), target_node(case)
    s_addr, t_addr = source_address(case), r.target_address
    if src is None or dst is None or s_addr is None or t_addr is None:
        return []
    out: list[RpDrop] = []
    target_if = holding(dst, t_addr)
    if target_if is not None:
        found = _check(case, dst, target_if, t_addr, s_addr, "request")
        if found is not None:
            out.append(found)
    out.extend(_walk(case, src, s_addr, t_addr, dst, "request"))
    if not kind_of(case).link_layer:  # a frame on the link has no reply route to check
        source_if = holding(src, s_addr)
        if source_if is not None:
            found = _check(case, src, source_if, s_addr, t_addr, "reply")
            if found is not None:
                out.append(found)
        out.extend(_walk(case, dst, t_addr, s_addr, src, "reply"))
    return out


def device_drops(case: Case, node: Node, ifname: str, reason: str) -> list[Drop]:
    """Traced drops with `reason` received on `node`'s `ifname`. The tracepoint names the
    device but not its namespace, so a drop counts only when no other node of the run has
    a device of that name (or the caller has the namespace's own counter as well)."""
    if any(i.ifname == ifname for n in case.topology.nodes.values() if n.name != node.name
           for i in n.interfaces):
        return []
    return case.live.window.drops_where(reason=reason, dev=ifname)


def kernel_saw(case: Case, drop: RpDrop) -> list[str]:
    """What the kernel itself said about this drop while the probes ran: the namespace's
    rp_filter counter and IP_RPFILTER drop reasons on the receiving device."""
    w = case.live.window
    lines: list[str] = []
    moved = w.delta(drop.node.netns, RP_COUNTER)
    if moved:
        lines.append(f"{drop.node.name}: {RP_COUNTER} +{moved} while the probes ran "
                     "(/proc/net/netstat in its namespace)")
    own = device_drops(case, drop.node, drop.iif, RP_REASON)
    if own:
        lines.append(f"kernel drop reason: {len(own)} x {own[0]} ({own[0].location})")
    elif moved and (named := w.drops_where(reason=RP_REASON, dev=drop.iif)):
        # Other nodes have a device of that name: the counter above ties it to this one.
        lines.append(f"kernel drop reason: {named[0]} ({named[0].location}; the trace "
                     "names the device, the counter the namespace)")
    return lines


def arp_failed(case: Case, drop: RpDrop) -> tuple[bool, str | None]:
    """Did the source's ARP for the refusing node go unanswered? (state, evidence line)"""
    src = source_node(case)
    if src is None or drop.transit:
        return False, None
    if kind_of(case).resolves_neighbour and drop.direction == "request":
        return True, f"ARP who-has {drop.dst} from {case.result.source}: {case.result.detail}"
    state = case.live.neighbours(src.netns).get(str(drop.dst))
    if state is not None and ("INCOMPLETE" in state[0] or "FAILED" in state[0]):
        return True, f"neighbour {drop.dst} in {src.name}: {state[0]} (no ARP reply)"
    return False, None


def arrival_evidence(case: Case, dst: Node) -> list[str] | None:
    """What the target's own counters say about the request getting in, as evidence lines:
    None when rp_filter dropped it on arrival, or when nothing there moved (a missing route
    back may be true and still not why this probe died). The counters are the kind's
    `arrived` trait, plus Ip.OutNoRoutes for replies it could not route."""
    r = case.result
    w = case.live.window
    iface = holding(dst, r.target_address)
    if w.delta(dst.netns, RP_COUNTER) or (
        iface is not None and device_drops(case, dst, iface.ifname, RP_REASON)
    ):
        return None  # dropped on arrival by rp_filter: the request never got in
    arrived = [f"{name} +{moved}" for name in kind_of(case).counters.arrived
               if (moved := w.delta(dst.netns, name))]
    no_routes = w.delta(dst.netns, "Ip.OutNoRoutes")
    if not arrived and not no_routes:
        return None
    out = []
    if arrived:
        out.append(f"{dst.name}: {', '.join(arrived)} while the probes ran (requests received)")
    if no_routes:
        out.append(f"{dst.name}: Ip.OutNoRoutes +{no_routes} while the probes ran "
                   "(packets it could not route)")
    return out
