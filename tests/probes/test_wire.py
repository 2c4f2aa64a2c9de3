"""The scapy-free fast path says exactly what scapy would: bytes, keys, summaries, results."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.compat import raw
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw
from scapy.supersocket import L3RawSocket

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.probes.exchange import exchange
from netcheck.probes.kinds.icmp import ECHO_PAYLOAD
from netcheck.probes.packets import classify, classify_probe, craft, craft_probe
from netcheck.probes.route import RouteInfo
from netcheck.probes.wire import Probe, Reply, checksum, echo_reply_key, recv_reply
from tests.probes.test_packets import DST, ROUTE, SRC, T0, task, udp_as_raw

SA_LL = ("eth0", 0x0800, 0, 1, b"\x02\x00\x00\x00\x00\x02")  # PACKET_HOST, ARPHRD_ETHER
ICMP_SPEC = ProbeSpec(kind=ProbeKind.ICMP)
# udp_as_raw: the worker's scapy setting, active here as in test_packets.
__all__ = ["udp_as_raw"]


def route(src: str | None = SRC) -> RouteInfo:
    return ROUTE if src == SRC else replace(ROUTE, src=ipaddress.ip_address(src) if src else None)


def echo_reply_frame(probe: ScapyPacket, **ip: Any) -> bytes:
    """The frame `probe`'s target sends back, as the packet socket delivers it."""
    req = probe[IP]
    reply = IP(src=req.dst, dst=req.src, **ip) / ICMP(type=0, id=req[ICMP].id, seq=req[ICMP].seq)
    reply = reply / Raw(bytes(req[ICMP].payload))
    return raw(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / reply)


def reply_of(frame: bytes, at: float = 0.004) -> Reply:
    return Reply(time=T0 + at, frame=frame, sa_ll=SA_LL, echo_key=echo_reply_key(frame, SA_LL))


addresses = st.integers(min_value=1, max_value=0xFFFFFFFE).map(
    lambda n: str(ipaddress.IPv4Address(n))
)


@given(
    src=addresses,
    dst=addresses,
    ident=st.integers(min_value=1, max_value=0xFFFF),
    seq=st.integers(min_value=0, max_value=0xFFFF),
    size=st.one_of(st.none(), st.integers(min_value=1, max_value=1472)),
)
def test_fast_echo_is_byte_for_byte_what_scapy_builds(
    src: str, dst: str, ident: int, seq: int, size: int | None
) -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP, size=size), dst=dst)
    fast = craft_probe(t, route(src), sport=1, ident=ident, seq=seq, isn=1)
    slow = craft(t, route(src), sport=1, ident=ident, seq=seq, isn=1)
    assert fast.echo_key is not None and fast.summary is not None
    assert fast.data == raw(slow)
    assert fast.summary == slow.summary()
    assert fast.hashret() == slow.hashret()
    assert type(fast.dst) is str and fast.dst == dst
    frame = echo_reply_frame(slow, id=seq ^ 0x5A5A, ttl=63)
    assert echo_reply_key(frame, SA_LL) == fast.echo_key
    reply = reply_of(frame)
    dissected = reply.packet()
    assert dissected is not None and dissected.answers(slow)
    assert (reply.summary, reply.src, reply.dst) == (dissected.summary(), dst, src)


def test_checksum_matches_scapy() -> None:
    from scapy.utils import checksum as scapy_checksum

    for data in (b"", b"\x01", b"\xff\xff", os.urandom(33), os.urandom(1500)):
        assert checksum(data) == scapy_checksum(data)


@pytest.mark.parametrize(
    ("spec", "src"),
    [
        (ProbeSpec(kind=ProbeKind.ICMP, size=0), SRC),  # no payload: no "/ Raw" in summary
        (ICMP_SPEC, None),  # the kernel picks the source: scapy matching is safer
        (ProbeSpec(kind=ProbeKind.TCP, port=80), SRC),
        (ProbeSpec(kind=ProbeKind.UDP, port=53), SRC),
    ],
)
def test_other_probes_keep_scapy(spec: ProbeSpec, src: str | None) -> None:
    probe = craft_probe(task(spec), route(src), sport=40000, ident=7, seq=3, isn=9)
    assert probe.echo_key is None and probe.summary is None
    assert probe.data == raw(craft(task(spec), route(src), sport=40000, ident=7, seq=3, isn=9))


def _probe() -> tuple[Probe, ScapyPacket]:
    t = task(ICMP_SPEC)
    fast = craft_probe(t, route(), sport=1, ident=0x1234, seq=5, isn=1)
    return fast, craft(t, route(), sport=1, ident=0x1234, seq=5, isn=1)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda f: f + b"\0" * 6, id="padding"),
        pytest.param(lambda f: f[:-1], id="truncated"),
        pytest.param(lambda f: f[:34] + b"\x00\x01" + f[36:], id="code-1"),
        pytest.param(lambda f: f[:34] + b"\x08" + f[35:], id="echo-request"),
        pytest.param(lambda f: f[:20] + b"\x20\x00" + f[22:], id="more-fragments"),
        pytest.param(lambda f: f[:12] + b"\x86\xdd" + f[14:], id="not-ipv4"),
    ],
)
def test_unusual_frames_go_to_scapy(mangle: Any) -> None:
    _fast, slow = _probe()
    frame = echo_reply_frame(slow)
    assert echo_reply_key(frame, SA_LL) is not None
    assert echo_reply_key(mangle(frame), SA_LL) is None


def test_options_vlan_and_other_link_types_go_to_scapy() -> None:
    _fast, slow = _probe()
    with_options = raw(
        Ether()
        / IP(src=DST, dst=SRC, options=[b"\x01\x01\x01\x00"])
        / ICMP(type=0, id=0x1234, seq=5)
        / Raw(ECHO_PAYLOAD)
    )
    tagged = raw(Ether() / Dot1Q(vlan=5) / IP(src=DST, dst=SRC) / ICMP(type=0, id=0x1234, seq=5))
    assert echo_reply_key(with_options, SA_LL) is None
    assert echo_reply_key(tagged, SA_LL) is None
    assert echo_reply_key(echo_reply_frame(slow), ("tun0", 0x0800, 0, 65534, b"")) is None


def test_fast_classification_equals_scapys() -> None:
    fast, slow = _probe()
    fast.sent_time = slow.sent_time = T0 + 0.001
    frame = echo_reply_frame(slow)
    reply = reply_of(frame)
    t = task(ICMP_SPEC)
    via_fast = classify_probe(t, route(), fast, [reply], timeout=1.0, t0=T0)
    scapy_reply = Ether(frame).payload
    scapy_reply.time = T0 + 0.004
    via_scapy = classify(t, route(), slow, [scapy_reply], timeout=1.0, t0=T0)
    assert via_fast == via_scapy
    assert via_fast.observation is Observation.ANSWERED and via_fast.rtt_ms == 3.0
    silent = classify_probe(t, route(), fast, [], timeout=1.0, t0=T0)
    assert silent == classify(t, route(), slow, [], timeout=1.0, t0=T0)
    assert silent.observation is Observation.SILENT


def test_a_fast_probe_answered_by_an_icmp_error_is_classified_by_scapy() -> None:
    fast, slow = _probe()
    fast.sent_time = T0 + 0.001
    err = raw(
        Ether()
        / IP(src="10.0.0.254", dst=SRC)
        / ICMP(type=3, code=1)
        / raw(slow)[:28]
    )
    reply = reply_of(err)
    assert reply.echo_key is None
    result = classify_probe(task(ICMP_SPEC), route(), fast, [reply], timeout=1.0, t0=T0)
    assert result.observation is Observation.ICMP_ERROR
    assert "host unreachable from 10.0.0.254" in result.detail


# --- exchange: one socket, fast and scapy matching side by side ---------------------------------


class FakeL3(L3RawSocket):
    """An L3RawSocket on a socketpair: frames queued by the test, sends recorded."""

    def __init__(self, frames: list[bytes]) -> None:
        self.ins, self._peer = socket.socketpair()
        self.outs = None
        self.frames = list(frames)
        self.sent: list[Probe] = []

    def send(self, x: Probe) -> int:  # type: ignore[override]
        x.sent_time = T0 + 0.001 * len(self.sent)
        self.sent.append(x)
        if len(self.sent) == 1:  # the replies arrive once probes went out
            for _ in self.frames:
                self._peer.send(b"x")
        return len(x.data)

    def _recv_raw(self, sock: socket.socket, x: int) -> tuple[bytes, Any, float | None]:
        sock.recv(1)
        return self.frames.pop(0), SA_LL, T0 + 0.01

    def close(self) -> None:
        self.ins.close()
        self._peer.close()


def test_exchange_matches_fast_replies_and_scapy_ones_together() -> None:
    r = route()
    echo_t = [task(ICMP_SPEC, dst=f"10.0.0.{i}") for i in (2, 3, 4)]
    tcp_t = task(ProbeSpec(kind=ProbeKind.TCP, port=80), dst="10.0.0.5")
    probes = [craft_probe(t, r, sport=40000, ident=9, seq=i, isn=1) for i, t in enumerate(echo_t)]
    tcp_probe = craft_probe(tcp_t, r, sport=40003, ident=9, seq=3, isn=1)
    probes.append(tcp_probe)
    scapy_of = [craft(t, r, sport=40000, ident=9, seq=i, isn=1) for i, t in enumerate(echo_t)]
    synack = raw(
        Ether()
        / IP(src="10.0.0.5", dst=SRC)
        / TCP(sport=80, dport=40003, flags="SA", ack=2)
    )
    unreachable = raw(Ether() / IP(src="10.0.0.254", dst=SRC) / ICMP(type=3, code=1)
                      / raw(scapy_of[2])[:28])
    frames = [
        echo_reply_frame(scapy_of[0]),
        echo_reply_frame(scapy_of[0]),  # a duplicate: the probe is answered already
        synack,
        unreachable,
        echo_reply_frame(scapy_of[1]),
    ]
    sock = FakeL3(frames)
    try:
        done = exchange(sock, probes, 1.0, multi=False)
    finally:
        sock.close()
    assert done.frames == len(frames)
    got = {i: done.answers.get(id(p), []) for i, p in enumerate(probes)}
    assert [len(v) for v in got.values()] == [1, 1, 1, 1]
    assert got[0][0].echo_key is not None and got[1][0].echo_key is not None
    assert got[2][0].echo_key is None and got[3][0].echo_key is None
    # The fast probes were never dissected for scapy's matching: its key came from bytes.
    assert all(p._pkt is None for p in probes[:2])
    tcp_result = classify_probe(tcp_t, r, tcp_probe, got[3], timeout=1.0, t0=T0)
    assert tcp_result.observation is Observation.ANSWERED, tcp_result.detail


def test_recv_reply_skips_outgoing_frames() -> None:
    class Sock:
        ins = None

        def __init__(self, pkttype: int) -> None:
            self.pkttype = pkttype

        def _recv_raw(self, sock: Any, x: int) -> tuple[bytes, Any, float]:
            return b"\0" * 60, ("eth0", 0x0800, self.pkttype, 1, b""), T0

    assert recv_reply(Sock(socket.PACKET_OUTGOING), 1500) is None
    got = recv_reply(Sock(socket.PACKET_HOST), 1500)
    assert got is not None and got.time == T0 and got.echo_key is None
