"""tcp/PORT: a SYN; SYN-ACK answers, RST or port unreachable is a closed port."""

from __future__ import annotations

import pytest
from scapy.compat import raw
from scapy.layers.inet import ICMP, IP, TCP
from scapy.packet import Packet as ScapyPacket

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.probes.kinds import kind_for
from netcheck.probes.kinds.tcp import KIND
from tests.probes.kinds._helpers import DST, IDS, ROUTER, SRC, T0, received, route, sent, task

SYN = ProbeSpec(kind=ProbeKind.TCP, port=80)


def reply(flags: str) -> ScapyPacket:
    return received(IP(src=DST, dst=SRC) / TCP(sport=80, dport=IDS["sport"], flags=flags))


def test_registered_and_needs_a_listener() -> None:
    assert kind_for("tcp") is KIND
    assert KIND.needs_listener and not KIND.asks_server and not KIND.link_layer


def test_syn_carries_our_port_and_sequence() -> None:
    syn = sent(KIND, task(SYN))
    assert syn[TCP].flags == "S" and syn[TCP].dport == 80
    assert syn[TCP].sport == IDS["sport"] and syn[TCP].seq == IDS["isn"]
    assert KIND.craft_wire(task(SYN), route(), **IDS) is None  # scapy builds it


def test_no_port_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="tcp probe without a port"):
        KIND.craft(task(ProbeSpec(kind=ProbeKind.TCP)), route(), **IDS)


def test_synack_rst_and_neither() -> None:
    t = task(SYN)
    probe = sent(KIND, t)
    ok = KIND.classify(t, route(), probe, [reply("SA")], timeout=1.0, t0=T0)
    assert ok.observation is Observation.ANSWERED and ok.detail.startswith(f"SYN-ACK from {DST}:80")
    rst = KIND.classify(t, route(), probe, [reply("RA")], timeout=1.0, t0=T0)
    assert rst.observation is Observation.REFUSED
    assert rst.detail == f"RST from {DST}:80: port closed"
    odd = KIND.classify(t, route(), probe, [reply("A")], timeout=1.0, t0=T0)
    assert odd.observation is Observation.ANSWERED and odd.detail.startswith("unexpected reply")
    assert odd.answered_by == (DST,)


def test_port_unreachable_is_refused_and_silence_names_the_port() -> None:
    t = task(SYN)
    probe = sent(KIND, t)
    err = received(IP(src=ROUTER, dst=SRC) / ICMP(type=3, code=3) / raw(probe)[:28])
    r = KIND.classify(t, route(), probe, [err], timeout=1.0, t0=T0)
    assert r.observation is Observation.REFUSED and r.detail.endswith("port closed")
    silent = KIND.classify(t, route(), probe, [], timeout=2.0, t0=T0)
    assert silent.detail == f"no SYN-ACK or RST from {DST}:80 within 2 s"
