"""udp/PORT: a datagram; any UDP reply answers, port unreachable is a closed port."""

from __future__ import annotations

from scapy.compat import raw
from scapy.layers.inet import ICMP, IP, UDP

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.probes.kinds import kind_for
from netcheck.probes.kinds.udp import KIND, UDP_PAYLOAD
from tests.probes.kinds._helpers import DST, IDS, SRC, T0, received, route, sent, task

DGRAM = ProbeSpec(kind=ProbeKind.UDP, port=5353)


def test_registered_and_needs_a_listener() -> None:
    assert kind_for("udp") is KIND
    assert KIND.needs_listener and not KIND.asks_server and not KIND.link_layer


def test_datagram_to_the_port_with_our_payload() -> None:
    pkt = sent(KIND, task(DGRAM))
    assert (pkt[UDP].sport, pkt[UDP].dport) == (IDS["sport"], 5353)
    assert bytes(pkt[UDP].payload) == UDP_PAYLOAD


def test_reply_port_unreachable_and_silence() -> None:
    t = task(DGRAM)
    probe = sent(KIND, t)
    echo = received(IP(src=DST, dst=SRC) / UDP(sport=5353, dport=IDS["sport"]) / b"hello")
    r = KIND.classify(t, route(), probe, [echo], timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED
    assert r.detail.startswith(f"UDP reply (5 bytes) from {DST}:5353")
    assert r.answered_by == (DST,)
    err = received(IP(src=DST, dst=SRC) / ICMP(type=3, code=3) / raw(probe)[:28])
    closed = KIND.classify(t, route(), probe, [err], timeout=1.0, t0=T0)
    assert closed.observation is Observation.REFUSED
    silent = KIND.classify(t, route(), probe, [], timeout=1.0, t0=T0)
    assert silent.observation is Observation.SILENT
    assert silent.detail == f"no UDP reply from {DST}:5353 within 1 s"
