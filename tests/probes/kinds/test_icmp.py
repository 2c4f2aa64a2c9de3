"""icmp and icmp/df/SIZE: echo requests, the IPv4 byte-level fast path, classification."""

from __future__ import annotations

from scapy.compat import raw
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.probes.kinds import kind_for
from netcheck.probes.kinds.icmp import ECHO_PAYLOAD, KIND
from netcheck.probes.wire import Reply, echo_reply_key
from tests.probes.kinds._helpers import (
    DST,
    DST6,
    IDS,
    MAC,
    ROUTER,
    ROUTER6,
    SRC,
    SRC6,
    T0,
    received,
    route,
    sent,
    task,
)

PING = ProbeSpec(kind=ProbeKind.ICMP)
SA_LL = ("eth0", 0x0800, 0, 1, b"\x02\x00\x00\x00\x00\x02")  # PACKET_HOST, ARPHRD_ETHER


def test_registered_under_its_word_with_plain_traits() -> None:
    assert kind_for("icmp") is KIND
    assert not (KIND.link_layer or KIND.needs_listener or KIND.asks_server)
    assert KIND.route_error(task(PING), route()) is None


def test_echo_request_and_df_sized_probe() -> None:
    plain = sent(KIND, task(PING))
    assert plain[IP].dst == DST and not plain[IP].flags.DF
    assert bytes(plain[ICMP].payload) == ECHO_PAYLOAD
    df = sent(KIND, task(ProbeSpec(kind=ProbeKind.ICMP, size=1400)))
    assert df[IP].flags.DF
    assert bytes(df[ICMP].payload) == bytes(i & 0xFF for i in range(1400))
    v6 = sent(KIND, task(PING, dst=DST6), route(SRC6))
    assert v6[IPv6].dst == DST6 and v6[ICMPv6EchoRequest].id == IDS["ident"]


def test_wire_fast_path_only_for_ipv4_with_a_known_source() -> None:
    fast = KIND.craft_wire(task(PING), route(), **IDS)
    assert fast is not None and fast.summary is not None
    assert fast.data == raw(KIND.craft(task(PING), route(), **IDS))
    assert KIND.craft_wire(task(PING), route(None), **IDS) is None
    assert KIND.craft_wire(task(PING, dst=DST6), route(SRC6), **IDS) is None
    no_payload = task(ProbeSpec(kind=ProbeKind.ICMP, size=0))
    assert KIND.craft_wire(no_payload, route(), **IDS) is None


def test_wire_classification_silent_and_answered() -> None:
    t = task(PING)
    probe = KIND.craft_wire(t, route(), **IDS)
    assert probe is not None
    probe.sent_time = T0 + 0.001
    silent = KIND.classify_wire(t, route(), probe, [], timeout=1.0, t0=T0)
    assert silent is not None and silent.observation is Observation.SILENT
    assert silent.detail == f"no echo reply from {DST} within 1 s"
    reply = IP(src=DST, dst=SRC) / ICMP(type=0, id=IDS["ident"], seq=IDS["seq"]) / ECHO_PAYLOAD
    data = raw(Ether(src="02:00:00:00:00:02", dst=MAC) / reply)
    frame = Reply(time=T0 + 0.004, frame=data, sa_ll=SA_LL, echo_key=echo_reply_key(data, SA_LL))
    assert frame.echo_key is not None  # the shape the fast path reads
    answered = KIND.classify_wire(t, route(), probe, [frame], timeout=1.0, t0=T0)
    assert answered is not None and answered.observation is Observation.ANSWERED
    assert answered.answered_by == (DST,) and answered.rtt_ms is not None


def test_port_unreachable_is_an_icmp_error_not_a_closed_port() -> None:
    t = task(PING)
    probe = sent(KIND, t)
    err = received(IP(src=ROUTER, dst=SRC) / ICMP(type=3, code=3) / raw(probe)[:28])
    r = KIND.classify(t, route(), probe, [err], timeout=1.0, t0=T0)
    assert r.observation is Observation.ICMP_ERROR
    assert r.detail == f"destination port unreachable from {ROUTER}"


def test_ipv6_echo_reply_and_packet_too_big() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP, size=1400), dst=DST6)
    probe = sent(KIND, t, route(SRC6))
    ok = received(IPv6(src=DST6, dst=SRC6) / ICMPv6EchoReply(id=IDS["ident"], seq=IDS["seq"]))
    r = KIND.classify(t, route(SRC6), probe, [ok], timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED and r.answered_by == (DST6,)
    unreach = received(IPv6(src=ROUTER6, dst=SRC6) / ICMPv6DestUnreach(code=0) / raw(probe)[:48])
    r = KIND.classify(t, route(SRC6), probe, [unreach], timeout=1.0, t0=T0)
    assert r.observation is Observation.ICMP_ERROR
    assert r.detail == f"no route to destination from {ROUTER6}"


def test_an_error_from_our_own_address_says_no_neighbour_answered() -> None:
    t = task(PING)
    probe = sent(KIND, t)
    err = received(IP(src=SRC, dst=SRC) / ICMP(type=3, code=1) / raw(probe)[:28])
    r = KIND.classify(t, route(), probe, [err], timeout=1.0, t0=T0)
    assert r.detail.endswith("(this namespace: no neighbour answered)")


def test_evidence_records_addresses_and_time() -> None:
    probe = sent(KIND, task(PING))
    ev = KIND.evidence(probe, T0, sent=True)
    assert (ev.src, ev.dst, ev.time) == (SRC, DST, 0.001)
    assert "echo-request" in ev.summary
