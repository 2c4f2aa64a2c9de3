"""Craft one probe packet per task and classify what came back, through the kind registry
(netcheck/probes/kinds/: one module per kind). Pure: no sockets, no setns.

Only worker processes (and unit tests) call this module; the kinds import scapy when they
craft or classify, so the main process never loads it.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netcheck.model.results import Observation, ProbeResult
from netcheck.probes.base import ProbeTask, result_for
from netcheck.probes.kinds import kind_for
from netcheck.probes.route import RouteInfo, describe_errno
from netcheck.probes.wire import Probe, Reply

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket


def craft_probe(
    task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
) -> Probe:
    """The probe as bytes on the wire: the kind's own bytes when it has them, else scapy's."""
    kind = kind_for(task.probe.kind)
    fast = kind.craft_wire(task, route, sport=sport, ident=ident, seq=seq, isn=isn)
    if fast is not None:
        return fast
    return Probe.of(kind.craft(task, route, sport=sport, ident=ident, seq=seq, isn=isn))


def craft(
    task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
) -> ScapyPacket:
    """The scapy packet for one task. L3 kinds start at IP/IPv6; ARP/NDP start at Ether.

    Every packet of a worker gets its own source port / echo id+seq, so scapy's matching
    (ports, ids, and the quoted header inside ICMP errors) tells the answers apart.
    """
    kind = kind_for(task.probe.kind)
    return kind.craft(task, route, sport=sport, ident=ident, seq=seq, isn=isn)


def error_result(task: ProbeTask, detail: str, route: RouteInfo | None = None) -> ProbeResult:
    return result_for(
        task, Observation.ERROR, detail,
        source_interface=route.ifname if route is not None else None,
        source_address=route.src if route is not None else None,
    )


def send_error_result(
    task: ProbeTask, route: RouteInfo, sent: ScapyPacket, err: OSError, t0: float
) -> ProbeResult:
    """The local stack refused the packet: TOO_BIG for EMSGSIZE, otherwise ERROR.

    EMSGSIZE comes back for a DF packet (icmp/df/SIZE) larger than the local MTU: what any
    application on the node would see.
    """
    code = err.errno or 0
    ev = (kind_for(task.probe.kind).evidence(sent, t0, sent=True),)
    if code == errno.EMSGSIZE:
        mtu = route.mtu if route.mtu is not None else "unknown"
        observation = Observation.TOO_BIG
        detail = f"{len(sent)}-byte packet with DF exceeds the local MTU {mtu} of {route.ifname}"
    else:
        observation = Observation.ERROR
        detail = f"could not send: {describe_errno(code)}"
    return result_for(
        task, observation, detail,
        source_interface=route.ifname, source_address=route.src, sent=ev,
    )


def classify_probe(
    task: ProbeTask,
    route: RouteInfo,
    probe: Probe,
    replies: Sequence[Reply],
    *,
    timeout: float,
    t0: float,
) -> ProbeResult:
    """`classify()` for a probe as sent on the wire; scapy only when the kind cannot read
    the bytes itself (the IPv4 echo fast path, kinds/icmp.py)."""
    kind = kind_for(task.probe.kind)
    fast = kind.classify_wire(task, route, probe, replies, timeout=timeout, t0=t0)
    if fast is not None:
        return fast
    pkts = [p for p in (r.packet() for r in replies) if p is not None]
    return kind.classify(task, route, probe.packet(), pkts, timeout=timeout, t0=t0)


def classify(
    task: ProbeTask,
    route: RouteInfo,
    sent: ScapyPacket,
    replies: Sequence[ScapyPacket],
    *,
    timeout: float,
    t0: float,
) -> ProbeResult:
    """What one sent packet and the replies matched to it mean, as a ProbeResult."""
    kind = kind_for(task.probe.kind)
    return kind.classify(task, route, sent, replies, timeout=timeout, t0=t0)
