"""Probes and replies as bytes first, scapy packets only when something needs one.

A worker's CPU went to scapy (measured, 50 workers x 49 ICMP probes): dissecting every reply
(~35%), building and serialising every probe (~30%), and rendering summaries for evidence.
The common case, an IPv4 echo request and its echo reply, is built, matched and summarised
here with `struct`, byte for byte and word for word what scapy would produce (the tests
compare both). Every other packet keeps its scapy object, and any reply the fast parser
does not recognise is dissected by scapy exactly as `L3RawSocket.recv` would.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

from scapy.arch.linux import get_last_packet_timestamp
from scapy.compat import raw
from scapy.config import conf
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet as ScapyPacket

ETH_HLEN = 14
_ETH_ARPHRD = (1, 772)  # ARPHRD_ETHER, ARPHRD_LOOPBACK: both carry an Ethernet header
_ETH_P_IP = 0x0800
_IPV4_ECHO = struct.Struct("!BBHHHBBH4s4sBBHHH")  # IPv4 header (no options) + ICMP echo
_ECHO_REQUEST, _ECHO_REPLY = 8, 0
_DF = 0x4000
_TTL = 64  # scapy's default, kept so the bytes stay what scapy would build

EchoKey = tuple[bytes, bytes, int, int]  # (reply source, reply destination, id, seq)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071), as scapy's `checksum()` computes it."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_summary(src: str, dst: str, kind: str) -> str:
    return f"IP / ICMP {src} > {dst} {kind} 0 / Raw"


@dataclass(slots=True, eq=False)
class Probe:
    """One probe packet: its bytes, where it goes, and scapy's view only on demand."""

    data: bytes
    dst: str
    v6: bool = False
    # An IPv4 echo request from a known source: its reply is matched and read without scapy.
    echo_key: EchoKey | None = None
    summary: str | None = None  # known without scapy (fast probes)
    src: str | None = None
    sent_time: float | None = None
    _pkt: ScapyPacket | None = None

    @classmethod
    def of(cls, pkt: ScapyPacket) -> Probe:
        """Wrap a crafted scapy packet (serialised once, here)."""
        v6 = pkt.haslayer(IPv6)
        layer = pkt.getlayer(IPv6 if v6 else IP)
        # A plain str: scapy's own address type makes sendto() load the idna codec.
        dst = str(layer.dst) if layer is not None else ""
        return cls(data=raw(pkt), dst=dst, v6=bool(v6), _pkt=pkt)

    def packet(self) -> ScapyPacket:
        """The scapy packet (dissected from the bytes for fast probes), with `sent_time`."""
        if self._pkt is None:
            self._pkt = (IPv6 if self.v6 else IP)(self.data)
        if self.sent_time is not None:
            self._pkt.sent_time = self.sent_time
        return self._pkt

    def hashret(self) -> bytes:
        """Scapy's `hashret()` of the packet; for fast probes without dissecting them.

        Scapy matches a reply it does not know (a TCP answer in the same batch, an ICMP
        error quoting an echo) by this key first, so a worker of fast probes never
        dissects all of them for one such reply.
        """
        key = self.echo_key
        if key is None or self._pkt is not None or not (conf.checkIPsrc and conf.checkIPaddr):
            return bytes(self.packet().hashret())
        reply_src, reply_dst, ident, seq = key  # the probe's destination and source
        mixed = bytes(a ^ b for a, b in zip(reply_dst, reply_src, strict=True))
        # struct "HH" in native order, as ICMP.hashret packs id and seq.
        return mixed + b"\x01" + struct.pack("HH", ident, seq)

    def __len__(self) -> int:
        return len(self.data)


def ipv4_echo(
    *, src: str, dst: str, ident: int, seq: int, payload: bytes, df: bool
) -> Probe:
    """An IPv4 echo request as scapy builds `IP(src, dst, id=seq)/ICMP(id, seq)/Raw(payload)`."""
    if not payload:
        raise ValueError("fast echo probes carry a payload")
    s4, d4 = socket.inet_aton(src), socket.inet_aton(dst)
    icmp = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, ident, seq & 0xFFFF) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    total = 20 + len(icmp)
    flags = _DF if df else 0
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, seq & 0xFFFF, flags, _TTL, 1, 0, s4, d4)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return Probe(
        data=header + icmp,
        dst=dst,
        echo_key=(d4, s4, ident, seq & 0xFFFF),
        summary=_echo_summary(src, dst, "echo-request"),
        src=src,
    )


@dataclass(slots=True, eq=False)
class Reply:
    """One received frame; scapy dissects it only when asked."""

    time: float | None
    frame: bytes = b""
    sa_ll: Any = None
    echo_key: EchoKey | None = None  # set when the frame is a plain IPv4 echo reply
    _pkt: ScapyPacket | None = None

    @classmethod
    def of(cls, pkt: ScapyPacket) -> Reply:
        return cls(time=float(pkt.time) if pkt.time is not None else None, _pkt=pkt)

    @property
    def src(self) -> str:
        return socket.inet_ntoa(self.frame[26:30])

    @property
    def dst(self) -> str:
        return socket.inet_ntoa(self.frame[30:34])

    @property
    def summary(self) -> str:
        """Scapy's summary of an echo reply (fast replies only)."""
        return _echo_summary(self.src, self.dst, "echo-reply")

    def packet(self) -> ScapyPacket | None:
        """What scapy's `L3RawSocket.recv` returns for this frame."""
        if self._pkt is None:
            self._pkt = _dissect(self.frame, self.sa_ll, self.time)
        return self._pkt


def _dissect(data: bytes, sa_ll: Any, ts: float | None) -> ScapyPacket | None:
    # Mirrors scapy.supersocket.L3RawSocket.recv after _recv_raw.
    if sa_ll[3] in conf.l2types:
        cls, lvl = conf.l2types.num2layer[sa_ll[3]], 2
    elif sa_ll[1] in conf.l3types:
        cls, lvl = conf.l3types.num2layer[sa_ll[1]], 3
    else:
        cls, lvl = conf.default_l2, 3
    try:
        pkt = cls(data)
    except Exception:
        if conf.debug_dissector:
            raise
        pkt = conf.raw_layer(data)
    if lvl == 2:
        pkt = pkt.payload
    if pkt is not None and ts is not None:
        pkt.time = ts
    return pkt


def echo_reply_key(frame: bytes, sa_ll: Any) -> EchoKey | None:
    """The match key of a frame that is a plain IPv4 echo reply, else None.

    Plain: Ethernet, no VLAN tag, no IP options, not a fragment, no padding, code 0, a
    payload — the shape whose scapy summary `Reply.summary` reproduces. Anything else goes
    to scapy.
    """
    if sa_ll[3] not in _ETH_ARPHRD or len(frame) <= ETH_HLEN + _IPV4_ECHO.size:
        return None
    if frame[12:14] != b"\x08\x00" or frame[14] != 0x45 or frame[23] != 1:
        return None
    (_vihl, _tos, total, _id, frag, _ttl, _proto, _csum, src, dst, itype, code, _icsum,
     ident, seq) = _IPV4_ECHO.unpack_from(frame, ETH_HLEN)
    if itype != _ECHO_REPLY or code != 0 or frag & 0x3FFF or total != len(frame) - ETH_HLEN:
        return None
    return (src, dst, ident, seq)


def recv_reply(sock: Any, bufsize: int) -> Reply | None:
    """Read one frame from a scapy L3RawSocket(6) without dissecting it (None: outgoing)."""
    data, sa_ll, ts = sock._recv_raw(sock.ins, bufsize)
    if sa_ll[2] == socket.PACKET_OUTGOING:
        return None
    if ts is None:
        ts = get_last_packet_timestamp(sock.ins)
    return Reply(time=ts, frame=data, sa_ll=sa_ll, echo_key=echo_reply_key(data, sa_ll))
