"""A routed packet as evidence (scapy). Apart from _common so the kinds' default evidence
(base.BaseKind) imports no module that imports the registry back."""

from __future__ import annotations

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet as ScapyPacket

from netcheck.model.results import Packet
from netcheck.probes.kinds._results import since, ts


def packet_time(pkt: ScapyPacket, *, sent: bool) -> float | None:
    return ts(getattr(pkt, "sent_time", None) if sent else getattr(pkt, "time", None))


def l3_evidence(pkt: ScapyPacket, t0: float, *, sent: bool) -> Packet:
    """A routed packet: its IP/IPv6 addresses."""
    src: str | None = None
    dst: str | None = None
    if IP in pkt:
        src, dst = str(pkt[IP].src), str(pkt[IP].dst)
    elif IPv6 in pkt:
        src, dst = str(pkt[IPv6].src), str(pkt[IPv6].dst)
    when = since(packet_time(pkt, sent=sent), t0)
    return Packet(summary=pkt.summary(), src=src, dst=dst, time=when)
