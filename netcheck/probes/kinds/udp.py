"""`udp/PORT`: a datagram. Any UDP reply is an answer; ICMP port unreachable, a closed port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netcheck.model.results import Observation, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds._results import result
from netcheck.probes.kinds.base import Argument, BaseKind, Counters, Kind, Syntax, destination
from netcheck.probes.route import RouteInfo

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket

UDP_PAYLOAD = b"netcheck udp probe\n"
# A datagram in, a port unreachable for one nobody listens on, a bad one: all say it got in.
UDP_COUNTERS = Counters(
    request=("Udp.InDatagrams", "Udp.NoPorts", "Udp.InErrors"),
    reply=("Udp.InDatagrams", "Icmp.InDestUnreachs"),
    arrived=("Udp.InDatagrams", "Udp.NoPorts"),
)


class Udp(BaseKind):
    word = "udp"
    syntax = Syntax(argument=Argument.PORT, order=40)
    needs_listener = True
    ip_proto = "udp"
    counters = UDP_COUNTERS

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        from scapy.layers.inet import UDP
        from scapy.packet import Raw

        from netcheck.probes.kinds._common import chain, l3_header, port_of

        l3, _ = l3_header(task, route, seq)
        return chain(l3, UDP(sport=sport, dport=port_of(task)), Raw(UDP_PAYLOAD))

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        from netcheck.probes.kinds._common import classify_l3

        return classify_l3(
            task, route, sent, replies, timeout=timeout, t0=t0,
            waiting_for="UDP reply", where=f"{destination(task)}:{task.probe.port}",
            port_closed=True, read=_read,
        )


def _read(
    task: ProbeTask, route: RouteInfo, reply: ScapyPacket, who: str, in_ms: str,
    kw: dict[str, Any],
) -> ProbeResult | None:
    from scapy.layers.inet import UDP


    if UDP not in reply:
        return None
    kw["answered_by"] = (who,)
    n = len(bytes(reply[UDP].payload))
    return result(
        task,
        route,
        Observation.ANSWERED,
        f"UDP reply ({n} bytes) from {who}:{reply[UDP].sport}{in_ms}",
        **kw,
    )


KIND: Kind = Udp()
