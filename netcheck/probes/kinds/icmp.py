"""`icmp` and `icmp/df/SIZE`: an echo request; with a size, that many payload bytes and DF.

The common IPv4 echo is built and matched from bytes (wire.py) without scapy. A DF probe
larger than the local MTU is refused by the sender's stack (TOO_BIG, packets.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from netcheck.model.results import Observation, Packet, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds._results import in_ms, result, rtt, since
from netcheck.probes.kinds.base import Argument, BaseKind, Counters, Kind, Syntax
from netcheck.probes.route import RouteInfo

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket

    from netcheck.probes.wire import Probe, Reply

ECHO_PAYLOAD = b"netcheck-probe-0123456789abcdef"  # 32 bytes: what `ping` sends, give or take


def echo_payload(size: int | None) -> bytes:
    return ECHO_PAYLOAD if size is None else bytes(i & 0xFF for i in range(size))


class Icmp(BaseKind):
    word = "icmp"
    syntax = Syntax(argument=Argument.DF_SIZE, optional=True, order=20)
    ip_proto = "icmp"
    counters = Counters(
        request=("Icmp.InEchos",),
        reply=("Icmp.InEchoReps", "Icmp.InDestUnreachs", "Icmp.InTimeExcds"),
        arrived=("Icmp.InEchos",),
    )

    @functools.cached_property
    def _ipv4_echo(self) -> Callable[..., Probe]:
        """wire.ipv4_echo, imported on first use (wire.py loads scapy): an import on every
        call cost the byte-level path ~1 us per probe."""
        from netcheck.probes.wire import ipv4_echo

        return ipv4_echo

    def craft_wire(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> Probe | None:
        if route.src is None or route.src.version != 4:
            return None
        dst = task.target_address  # an echo goes to the target itself
        payload = echo_payload(task.probe.size)
        # Without a payload scapy's summary has no "/ Raw": leave that rare shape to scapy.
        if dst.version != 4 or not payload:
            return None
        return self._ipv4_echo(
            src=str(route.src),
            dst=str(dst),
            ident=ident,
            seq=seq,
            payload=payload,
            df=task.probe.size is not None,
        )

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        from scapy.layers.inet import ICMP
        from scapy.layers.inet6 import ICMPv6EchoRequest
        from scapy.packet import Raw

        from netcheck.probes.kinds._common import chain, l3_header

        l3, v6 = l3_header(task, route, seq)
        size = task.probe.size
        payload = echo_payload(size)
        if v6:
            return chain(l3, ICMPv6EchoRequest(id=ident, seq=seq, data=payload))
        if size is not None:
            l3.flags = "DF"
        return chain(l3, ICMP(type=8, id=ident, seq=seq), Raw(payload))

    def classify_wire(
        self, task: ProbeTask, route: RouteInfo, probe: Probe, replies: Sequence[Reply],
        *, timeout: float, t0: float,
    ) -> ProbeResult | None:
        """An IPv4 echo request answered by plain echo replies (or by nothing) gets the very
        result `classify` would give, without dissecting anything."""
        if probe.summary is None or any(r.echo_key is None for r in replies):
            return None
        sent_ev = (
            Packet(
                summary=probe.summary,
                src=probe.src,
                dst=probe.dst,
                time=since(probe.sent_time, t0),
            ),
        )
        if not replies:
            return result(
                task,
                route,
                Observation.SILENT,
                f"no echo reply from {probe.dst} within {timeout:g} s",
                sent=sent_ev,
            )
        received = tuple(
            Packet(summary=r.summary, src=r.src, dst=r.dst, time=since(r.time, t0))
            for r in replies
        )
        who = received[0].src
        ms = rtt(probe.sent_time, replies[0].time)
        return result(
            task,
            route,
            Observation.ANSWERED,
            f"echo reply from {who}{in_ms(ms)}",
            sent=sent_ev,
            received=received,
            rtt_ms=ms,
            answered_by=(who,),
        )

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        from netcheck.probes.kinds._common import classify_l3

        return classify_l3(
            task, route, sent, replies, timeout=timeout, t0=t0,
            waiting_for="echo reply", where=str(task.target_address), port_closed=False,
            read=_read,
        )


def _read(
    task: ProbeTask, route: RouteInfo, reply: ScapyPacket, who: str, took: str,
    kw: dict[str, Any],
) -> ProbeResult | None:
    from scapy.layers.inet import ICMP
    from scapy.layers.inet6 import ICMPv6EchoReply

    if (ICMP in reply and reply[ICMP].type == 0) or ICMPv6EchoReply in reply:
        kw["answered_by"] = (who,)
        return result(task, route, Observation.ANSWERED, f"echo reply from {who}{took}", **kw)
    return None


KIND: Kind = Icmp()
