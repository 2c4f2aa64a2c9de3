"""The reverse-path check both rp-filter rules share: ask the kernel, with `iif`.

`ip route get DST from SRC iif DEV` makes the kernel judge a packet from SRC arriving on
DEV exactly as it would judge a real one, rp_filter included. Strict mode refuses when the
best route back to SRC leaves by another device: older kernels answer EXDEV ("Invalid
cross-device link"); since the drop-reason rework (6.13+) every martian answers EINVAL.
So the answer alone is not proof: the same lookup arriving on the interface the route back
uses must then succeed, which pins the refusal on the interface mismatch.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from netcheck.diagnose.base import Case
from netcheck.diagnose.live import RouteAnswer
from netcheck.diagnose.rules._common import holding, source_address, source_node, target_node
from netcheck.model.plan import IPAddress, ProbeKind
from netcheck.model.results import Node


@dataclass(frozen=True, slots=True, kw_only=True)
class RpDrop:
    node: Node
    iif: str
    dst: IPAddress  # the packet's destination (an address of `node`)
    src: IPAddress  # the packet's source, judged a martian
    answer: RouteAnswer  # the EXDEV
    effective: int | None
    effective_line: str
    reverse: RouteAnswer  # where the kernel would send a packet back to `src`
    control: RouteAnswer  # the same packet arriving on `reverse_dev`: accepted
    reverse_dev: str
    direction: str  # "request" (at the target / next hop) or "reply" (back at the source)


def _check(case: Case, node: Node, dst: IPAddress, src: IPAddress, direction: str
           ) -> RpDrop | None:
    iface = holding(node, dst)
    if iface is None:
        return None
    answer = case.live.route_lookup(node.netns, str(dst), src=str(src), iif=iface.ifname)
    if answer.errno not in (errno.EXDEV, errno.EINVAL):
        return None
    reverse = case.live.route_lookup(node.netns, str(src))
    back_dev = case.live.ifname(node.netns, reverse.oif)
    if reverse.errno or back_dev is None or back_dev == iface.ifname:
        return None  # no way back at all, or the same device: not a reverse-path mismatch
    control = case.live.route_lookup(node.netns, str(dst), src=str(src), iif=back_dev)
    if control.errno:
        return None  # refused on every interface: some other martian rule
    value, line = case.live.conf_effective(node.netns, iface.ifname, "rp_filter")
    return RpDrop(node=node, iif=iface.ifname, dst=dst, src=src, answer=answer,
                  effective=value, effective_line=line, reverse=reverse, control=control,
                  reverse_dev=back_dev, direction=direction)


def rp_drops(case: Case) -> list[RpDrop]:
    """Every place on the probe's path where strict rp_filter refuses it (or its reply)."""
    r = case.result
    src, dst = source_node(case), target_node(case)
    s_addr, t_addr = source_address(case), r.target_address
    if src is None or dst is None or s_addr is None or t_addr is None:
        return []
    out: list[RpDrop] = []
    found = _check(case, dst, t_addr, s_addr, "request")
    if found is not None:
        out.append(found)
    # The next hop answers the source's ARP for the gateway; it judges the source too.
    gw = case.live.route_lookup(src.netns, str(t_addr), src=str(s_addr)).gateway
    if gw is not None:
        for node in case.topology.nodes.values():
            if node.name in (src.name, dst.name):
                continue
            hop = holding(node, _ip(gw))
            if hop is not None and hop.address is not None:
                found = _check(case, node, hop.address, s_addr, "request")
                if found is not None:
                    out.append(found)
    if r.probe.kind is not ProbeKind.ARP:
        found = _check(case, src, s_addr, t_addr, "reply")
        if found is not None:
            out.append(found)
    return out


def _ip(text: str) -> IPAddress | None:
    import ipaddress

    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def arp_failed(case: Case, drop: RpDrop) -> tuple[bool, str | None]:
    """Did the source's ARP for the refusing node go unanswered? (state, evidence line)"""
    src = source_node(case)
    if src is None:
        return False, None
    if case.result.probe.kind is ProbeKind.ARP and drop.direction == "request":
        return True, f"ARP who-has {drop.dst} from {case.result.source}: {case.result.detail}"
    state = case.live.neighbours(src.netns).get(str(drop.dst))
    if state is not None and ("INCOMPLETE" in state[0] or "FAILED" in state[0]):
        return True, f"neighbour {drop.dst} in {src.name}: {state[0]} (no ARP reply)"
    return False, None
