"""Crafting and classification from crafted packets: no root, no sockets."""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Iterator

import pytest
from scapy.compat import raw
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet as ScapyPacket

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.model.sites import NamespacePath
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds._common import icmp_error_text
from netcheck.probes.packets import classify, craft, send_error_result
from netcheck.probes.route import RouteInfo

SRC = "10.0.0.1"
DST = "10.0.0.2"
ROUTER = "10.0.0.254"
ROUTE = RouteInfo(
    ifname="eth0",
    ifindex=2,
    src=ipaddress.ip_address(SRC),
    gateway=None,
    mtu=1500,
    mac="02:00:00:00:00:01",
)
T0 = 1000.0


@pytest.fixture(autouse=True)
def udp_as_raw() -> Iterator[None]:
    """What the worker does after setns: UDP payloads stay Raw, matched by ports only."""
    saved = list(UDP.payload_guess)
    UDP.payload_guess = []
    yield
    UDP.payload_guess = saved


def task(spec: ProbeSpec, dst: str = DST, dns_server: str | None = None) -> ProbeTask:
    return ProbeTask(
        probe_id=f"{spec}:a->b",
        source="a",
        source_site=NamespacePath(path="/run/netns/x"),
        target="b",
        target_address=ipaddress.ip_address(dst),
        probe=spec,
        dns_server=ipaddress.ip_address(dns_server) if dns_server else None,
    )


def sent(t: ProbeTask, sport: int = 40000, seq: int = 1) -> ScapyPacket:
    pkt = craft(t, ROUTE, sport=sport, ident=0x1234, seq=seq, isn=1000)
    pkt.sent_time = T0 + 0.001
    return pkt


def received(pkt: ScapyPacket, at: float = 0.003) -> ScapyPacket:
    """As the socket would hand it over: dissected from bytes, with a kernel timestamp."""
    out = IP(raw(pkt))
    out.time = T0 + at
    return out


def icmp_error(probe: ScapyPacket, type_: int, code: int, frm: str, **kw: int) -> ScapyPacket:
    quote = raw(probe)[:28]
    return received(IP(src=frm, dst=SRC) / ICMP(type=type_, code=code, **kw) / quote)


# --- matching: scapy pairs ICMP errors with the probe they quote ---------------------------------


def test_port_unreachable_answers_the_udp_probe_and_not_another() -> None:
    probe = sent(task(ProbeSpec(kind=ProbeKind.UDP, port=5353)), sport=40001)
    other = sent(task(ProbeSpec(kind=ProbeKind.UDP, port=5353)), sport=40002)
    err = icmp_error(probe, 3, 3, DST)
    assert err.hashret() == probe.hashret()
    assert err.answers(probe)
    assert not err.answers(other)


def test_host_unreachable_from_router_answers_echo_and_tcp() -> None:
    echo = sent(task(ProbeSpec(kind=ProbeKind.ICMP)))
    syn = sent(task(ProbeSpec(kind=ProbeKind.TCP, port=80)))
    assert icmp_error(echo, 3, 1, ROUTER).answers(echo)
    err = icmp_error(syn, 3, 1, ROUTER)
    assert err.answers(syn)
    assert not err.answers(echo)


def test_echo_reply_matches_by_id_and_seq() -> None:
    echo = sent(task(ProbeSpec(kind=ProbeKind.ICMP)), seq=7)
    reply = received(IP(src=DST, dst=SRC) / ICMP(type=0, id=0x1234, seq=7) / b"x")
    wrong = received(IP(src=DST, dst=SRC) / ICMP(type=0, id=0x1234, seq=8) / b"x")
    assert reply.answers(echo)
    assert not wrong.answers(echo)


def test_udp_echo_on_port_53_matches_once_dns_dissection_is_off() -> None:
    probe = sent(task(ProbeSpec(kind=ProbeKind.UDP, port=53)))
    echo = received(IP(src=DST, dst=SRC) / UDP(sport=53, dport=40000) / raw(probe[UDP].payload))
    assert echo.answers(probe)


# --- classification ---------------------------------------------------------------------------


def test_echo_reply_is_answered_with_rtt() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP))
    probe = sent(t)
    reply = received(IP(src=DST, dst=SRC) / ICMP(type=0, id=0x1234, seq=1) / b"x", at=0.0015)
    r = classify(t, ROUTE, probe, [reply], timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED
    assert r.rtt_ms == pytest.approx(0.5, abs=0.01)
    assert r.answered_by == (DST,)
    assert r.source_interface == "eth0"
    assert str(r.source_address) == SRC
    assert r.sent[0].src == SRC and r.sent[0].dst == DST
    assert r.received[0].time == pytest.approx(0.0015)
    assert "echo-request" in r.sent[0].summary


def test_nothing_back_is_silent() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP))
    r = classify(t, ROUTE, sent(t), [], timeout=1.0, t0=T0)
    assert r.observation is Observation.SILENT
    assert r.detail == f"no echo reply from {DST} within 1 s"
    assert len(r.sent) == 1 and not r.received


def test_host_unreachable_names_who_sent_it() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP))
    probe = sent(t)
    r = classify(t, ROUTE, probe, [icmp_error(probe, 3, 1, ROUTER)], timeout=1.0, t0=T0)
    assert r.observation is Observation.ICMP_ERROR
    assert r.detail == f"destination host unreachable from {ROUTER}"
    assert r.answered_by == (ROUTER,)


def test_frag_needed_reports_next_hop_mtu() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP, size=1400))
    probe = sent(t)
    assert probe[IP].flags.DF
    assert len(probe[ICMP].payload) == 1400
    err = icmp_error(probe, 3, 4, ROUTER, nexthopmtu=1300)
    r = classify(t, ROUTE, probe, [err], timeout=1.0, t0=T0)
    assert r.observation is Observation.ICMP_ERROR
    assert "next-hop MTU 1300" in r.detail


def test_emsgsize_is_too_big_with_local_mtu() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP, size=1600))
    probe = sent(t)
    r = send_error_result(t, ROUTE, probe, OSError(errno.EMSGSIZE, "too long"), T0)
    assert r.observation is Observation.TOO_BIG
    assert "local MTU 1500 of eth0" in r.detail


def test_no_route_on_send_is_error_not_silent() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ICMP))
    r = send_error_result(t, ROUTE, sent(t), OSError(errno.ENETUNREACH, "x"), T0)
    assert r.observation is Observation.ERROR
    assert r.detail.startswith("could not send: no route to host")


@pytest.mark.parametrize(
    ("flags", "observation"),
    [("SA", Observation.ANSWERED), ("RA", Observation.REFUSED)],
)
def test_tcp_synack_and_rst(flags: str, observation: Observation) -> None:
    t = task(ProbeSpec(kind=ProbeKind.TCP, port=80))
    probe = sent(t)
    reply = received(IP(src=DST, dst=SRC) / TCP(sport=80, dport=40000, flags=flags, ack=1001))
    assert reply.answers(probe)
    assert classify(t, ROUTE, probe, [reply], timeout=1.0, t0=T0).observation is observation


def test_udp_reply_and_port_unreachable() -> None:
    t = task(ProbeSpec(kind=ProbeKind.UDP, port=5353))
    probe = sent(t)
    echo = received(IP(src=DST, dst=SRC) / UDP(sport=5353, dport=40000) / b"hello")
    assert classify(t, ROUTE, probe, [echo], timeout=1.0, t0=T0).observation is (
        Observation.ANSWERED
    )
    refused = classify(t, ROUTE, probe, [icmp_error(probe, 3, 3, DST)], timeout=1.0, t0=T0)
    assert refused.observation is Observation.REFUSED
    assert "port unreachable" in refused.detail
    other = classify(t, ROUTE, probe, [icmp_error(probe, 3, 13, ROUTER)], timeout=1.0, t0=T0)
    assert other.observation is Observation.ICMP_ERROR
    assert "administratively prohibited" in other.detail


def dns_reply(probe: ScapyPacket, rcode: int, answers: list[str]) -> ScapyPacket:
    query = DNS(raw(probe[UDP].payload))
    an = [DNSRR(rrname=query.qd[0].qname, type="A", rdata=a) for a in answers]
    msg = DNS(id=query.id, qr=1, rd=1, ra=1, rcode=rcode, qd=query.qd, an=an)
    return received(IP(src=DST, dst=SRC) / UDP(sport=53, dport=probe[UDP].sport) / raw(msg))


def test_dns_answered_lists_addresses() -> None:
    t = task(ProbeSpec(kind=ProbeKind.DNS, qname="svc.lab"))
    probe = sent(t)
    assert probe[DNSQR].qname == b"svc.lab."
    reply = dns_reply(probe, 0, ["10.0.0.7", "10.0.0.8"])
    assert reply.answers(probe)
    r = classify(t, ROUTE, probe, [reply], timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED
    assert r.answered_by == ("10.0.0.7", "10.0.0.8")
    assert "10.0.0.7, 10.0.0.8" in r.detail


def test_dns_nxdomain_and_nodata() -> None:
    t = task(ProbeSpec(kind=ProbeKind.DNS, qname="nope.lab"))
    probe = sent(t)
    nx = classify(t, ROUTE, probe, [dns_reply(probe, 3, [])], timeout=1.0, t0=T0)
    assert nx.observation is Observation.DNS_ERROR
    assert nx.detail.startswith("NXDOMAIN for nope.lab")
    nodata = classify(t, ROUTE, probe, [dns_reply(probe, 0, [])], timeout=1.0, t0=T0)
    assert nodata.observation is Observation.DNS_ERROR
    assert "NODATA" in nodata.detail


def test_dns_goes_to_the_server_and_asks_aaaa_for_v6_targets() -> None:
    t = task(ProbeSpec(kind=ProbeKind.DNS, qname="c2"), dst="fd00::2", dns_server="10.0.0.53")
    route = RouteInfo(ifname="eth0", ifindex=2, src=None, gateway=None, mtu=1500, mac=None)
    probe = craft(t, route, sport=40000, ident=1, seq=1, isn=1)
    assert probe[IP].dst == "10.0.0.53"
    assert probe[DNSQR].qtype == 28


def arp_reply(mac: str, ip: str = DST) -> ScapyPacket:
    pkt = Ether(raw(Ether(src=mac, dst=ROUTE.mac) / ARP(op=2, hwsrc=mac, psrc=ip, pdst=SRC)))
    pkt.time = T0 + 0.002
    return pkt


def test_arp_one_mac_answered_two_macs_conflict() -> None:
    t = task(ProbeSpec(kind=ProbeKind.ARP))
    probe = sent(t)
    assert probe[Ether].dst == "ff:ff:ff:ff:ff:ff"
    assert probe[ARP].pdst == DST and probe[ARP].psrc == SRC
    one = [arp_reply("02:00:00:00:00:aa")]
    assert one[0].answers(probe)
    r = classify(t, ROUTE, probe, one, timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED
    assert r.answered_by == ("02:00:00:00:00:aa",)
    two = [*one, arp_reply("02:00:00:00:00:bb")]
    r = classify(t, ROUTE, probe, two, timeout=1.0, t0=T0)
    assert r.observation is Observation.CONFLICT
    assert "02:00:00:00:00:aa" in r.detail and "02:00:00:00:00:bb" in r.detail
    silent = classify(t, ROUTE, probe, [], timeout=1.0, t0=T0)
    assert silent.observation is Observation.SILENT


@pytest.mark.parametrize(
    "spec",
    [
        ProbeSpec(kind=ProbeKind.ICMP),
        ProbeSpec(kind=ProbeKind.ICMP, size=100),
        ProbeSpec(kind=ProbeKind.TCP, port=80),
        ProbeSpec(kind=ProbeKind.UDP, port=53),
        ProbeSpec(kind=ProbeKind.DNS, qname="svc.lab"),
        ProbeSpec(kind=ProbeKind.ARP),
    ],
)
def test_crafted_packets_build_like_scapy_defaults(spec: ProbeSpec) -> None:
    """Building with `explicit` set must give the bytes scapy's normal build gives."""
    pkt = sent(task(spec))
    plain = pkt.copy()
    layer: ScapyPacket | None = plain
    while layer:
        layer.explicit = 0
        layer = layer.payload or None
    assert raw(pkt) == raw(plain)
    assert raw(pkt) == raw(pkt.__class__(raw(pkt)))


def test_icmp_error_text_for_non_errors_is_none() -> None:
    assert icmp_error_text(IP() / ICMP(type=0)) is None
    assert icmp_error_text(IP() / TCP()) is None
