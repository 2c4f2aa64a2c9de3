"""`tcp/PORT`: a SYN. SYN-ACK is an answer, RST (or ICMP port unreachable) a closed port."""

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


class Tcp(BaseKind):
    word = "tcp"
    syntax = Syntax(argument=Argument.PORT, order=30)
    needs_listener = True
    ip_proto = "tcp"
    counters = Counters(request=("Tcp.InSegs",), reply=("Tcp.InSegs", "Icmp.InDestUnreachs"))
    refusal = "TCP RST"

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        from scapy.layers.inet import TCP

        from netcheck.probes.kinds._common import chain, l3_header, port_of

        l3, _ = l3_header(task, route, seq)
        return chain(l3, TCP(sport=sport, dport=port_of(task), flags="S", seq=isn, window=64240))

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        from netcheck.probes.kinds._common import classify_l3

        return classify_l3(
            task, route, sent, replies, timeout=timeout, t0=t0,
            waiting_for="SYN-ACK or RST", where=f"{destination(task)}:{task.probe.port}",
            port_closed=True, read=_read,
        )


def _read(
    task: ProbeTask, route: RouteInfo, reply: ScapyPacket, who: str, in_ms: str,
    kw: dict[str, Any],
) -> ProbeResult | None:
    from scapy.layers.inet import TCP


    if TCP not in reply:
        return None
    flags = reply[TCP].flags
    # Set before the flags are read: a segment that is neither still names who sent it.
    kw["answered_by"] = (who,)
    port = reply[TCP].sport
    if flags.S and flags.A:
        return result(task, route, Observation.ANSWERED, f"SYN-ACK from {who}:{port}{in_ms}", **kw)
    if flags.R:
        return result(task, route, Observation.REFUSED, f"RST from {who}:{port}: port closed", **kw)
    return None


KIND: Kind = Tcp()
