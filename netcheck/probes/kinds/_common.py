"""What the routed (L3) kinds share: ICMP error texts, evidence, one classifier.

Imports scapy: the kind modules import it when they craft or classify, never at import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from scapy.layers.inet import ICMP, IP, icmpcodes, icmptypes
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
)
from scapy.packet import Packet as ScapyPacket

from netcheck.model.results import Observation, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds._evidence import l3_evidence
from netcheck.probes.kinds._results import in_ms, result, rtt, ts
from netcheck.probes.kinds.base import destination
from netcheck.probes.route import RouteInfo

_ICMP4_ERRORS = (3, 4, 5, 11, 12)
_ICMP4_TEXT = {
    (3, 0): "destination network unreachable",
    (3, 1): "destination host unreachable",
    (3, 2): "destination protocol unreachable",
    (3, 3): "destination port unreachable",
    (3, 4): "fragmentation needed",
    (3, 9): "destination network administratively prohibited",
    (3, 10): "destination host administratively prohibited",
    (3, 13): "communication administratively prohibited",
    (11, 0): "time exceeded in transit",
    (11, 1): "fragment reassembly time exceeded",
}
_ICMP6_TEXT = {
    (1, 0): "no route to destination",
    (1, 1): "communication administratively prohibited",
    (1, 3): "destination address unreachable",
    (1, 4): "destination port unreachable",
    (1, 5): "source address failed policy",
    (1, 6): "reject route to destination",
    (3, 0): "hop limit exceeded in transit",
    (3, 1): "fragment reassembly time exceeded",
}

# A kind's reading of a reply that is no ICMP error: (task, route, reply, who, " in N ms",
# the result's packets and rtt so far) -> its result, or None for "not an answer of mine".
ReadReply = Callable[
    [ProbeTask, RouteInfo, ScapyPacket, str, str, dict[str, Any]], ProbeResult | None
]


# --- crafting ---------------------------------------------------------------------------------


def l3_header(task: ProbeTask, route: RouteInfo, seq: int) -> tuple[ScapyPacket, bool]:
    """(IP or IPv6 from the route's source to the kind's destination, is it IPv6).

    The IPv4 id is `seq`, so each probe of a worker has its own.
    """
    dst = str(destination(task))
    src = str(route.src) if route.src is not None else None
    if ":" in dst:
        return IPv6(src=src, dst=dst), True
    return IP(src=src, dst=dst, id=seq & 0xFFFF), False


def chain(*layers: ScapyPacket) -> ScapyPacket:
    """`layers[0] / layers[1] / ...`, built in place.

    add_payload() builds in place; `a / b` copies both sides, which was a third of a
    worker's CPU time at 49 probes.
    """
    for upper, lower in zip(layers[-2::-1], layers[:0:-1], strict=True):
        upper.add_payload(lower)
    # Every field holds a plain value (no RandShort & co.), so scapy may build the layers as
    # they are instead of cloning each one first: same bytes, half the build time.
    for layer in layers:
        layer.explicit = 1
    return layers[0]


def port_of(task: ProbeTask) -> int:
    if task.probe.port is None:
        raise ValueError(f"{task.probe_id}: {task.probe.kind.value} probe without a port")
    return task.probe.port


# --- results ----------------------------------------------------------------------------------


def rtt_ms(sent: ScapyPacket, reply: ScapyPacket) -> float | None:
    return rtt(ts(getattr(sent, "sent_time", None)), ts(getattr(reply, "time", None)))


def icmp_error_text(pkt: ScapyPacket) -> tuple[str, bool] | None:
    """(text, is_port_unreachable) for an ICMP/ICMPv6 error, None when `pkt` is not one."""
    if ICMP in pkt and pkt[ICMP].type in _ICMP4_ERRORS:
        icmp = pkt[ICMP]
        key = (int(icmp.type), int(icmp.code))
        text = _ICMP4_TEXT.get(key)
        if text is None:
            tname = icmptypes.get(key[0], f"type {key[0]}")
            cname = icmpcodes.get(key[0], {}).get(key[1], f"code {key[1]}")
            text = f"ICMP {tname} {cname}"
        if key == (3, 4):
            text = f"{text} (next-hop MTU {int(icmp.nexthopmtu)})"
        return text, key == (3, 3)
    for cls in (ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem):
        if cls in pkt:
            layer = pkt[cls]
            key = (int(layer.type), int(layer.code))
            if cls is ICMPv6PacketTooBig:
                return f"packet too big (MTU {int(layer.mtu)})", False
            if cls is ICMPv6ParamProblem:
                return f"ICMPv6 parameter problem code {key[1]}", False
            return _ICMP6_TEXT.get(key, f"ICMPv6 type {key[0]} code {key[1]}"), key == (1, 4)
    return None


def l3_src(pkt: ScapyPacket) -> str:
    if IP in pkt:
        return str(pkt[IP].src)
    if IPv6 in pkt:
        return str(pkt[IPv6].src)
    return "?"


def classify_l3(
    task: ProbeTask,
    route: RouteInfo,
    sent: ScapyPacket,
    replies: Sequence[ScapyPacket],
    *,
    timeout: float,
    t0: float,
    waiting_for: str,
    where: str,
    port_closed: bool,
    read: ReadReply,
) -> ProbeResult:
    """The classification every routed kind shares, around the kind's own `read`.

    Nothing back is SILENT ("no `waiting_for` from `where`"); an ICMP error is ICMP_ERROR,
    or REFUSED when it is a port unreachable and `port_closed`; a reply `read` does not
    take is "unexpected".
    """
    sent_ev = (l3_evidence(sent, t0, sent=True),)
    if not replies:
        return result(
            task,
            route,
            Observation.SILENT,
            f"no {waiting_for} from {where} within {timeout:g} s",
            sent=sent_ev,
        )
    reply = replies[0]
    kw: dict[str, Any] = {
        "sent": sent_ev,
        "received": tuple(l3_evidence(r, t0, sent=False) for r in replies),
        "rtt_ms": rtt_ms(sent, reply),
    }
    who = l3_src(reply)
    err = icmp_error_text(reply)
    if err is not None:
        text, port_unreachable = err
        local = route.src is not None and who == str(route.src)
        origin = f"{who} (this namespace: no neighbour answered)" if local else who
        kw["answered_by"] = (who,)
        if port_unreachable and port_closed:
            return result(
                task, route, Observation.REFUSED, f"{text} from {origin}: port closed", **kw
            )
        return result(task, route, Observation.ICMP_ERROR, f"{text} from {origin}", **kw)
    mine = read(task, route, reply, who, in_ms(kw["rtt_ms"]), kw)
    if mine is not None:
        return mine
    return result(
        task,
        route,
        Observation.ICMP_ERROR if (ICMP in reply or IPv6 in reply) else Observation.ANSWERED,
        f"unexpected reply from {who}: {reply.summary()}",
        **kw,
    )
