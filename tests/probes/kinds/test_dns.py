"""dns/NAME: a query to the resolver or named server; answers, DNS errors, the judge's check."""

from __future__ import annotations

import ipaddress

from scapy.compat import raw
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet as ScapyPacket

from netcheck.model.plan import Expectation, ProbeKind, ProbeSpec, Target
from netcheck.model.results import Observation, ProbeResult
from netcheck.probes.kinds import destination, kind_for
from netcheck.probes.kinds.dns import KIND
from tests.probes.kinds._helpers import DST, DST6, SERVER, SRC, T0, received, route, sent, task

QUERY = ProbeSpec(kind=ProbeKind.DNS, qname="svc.lab")


def answer(probe: ScapyPacket, rcode: int, addresses: list[str], payload: bytes | None = None
           ) -> ScapyPacket:
    query = DNS(raw(probe[UDP].payload))
    an = [DNSRR(rrname=query.qd[0].qname, type="AAAA" if ":" in a else "A", rdata=a)
          for a in addresses]
    msg = raw(DNS(id=query.id, qr=1, rd=1, ra=1, rcode=rcode, qd=query.qd, an=an))
    return received(IP(src=SERVER, dst=SRC) / UDP(sport=53, dport=probe[UDP].sport)
                    / (msg if payload is None else payload))


def test_registered_and_asks_a_server() -> None:
    assert kind_for("dns") is KIND
    assert KIND.asks_server and not KIND.needs_listener and not KIND.link_layer


def test_the_query_goes_to_the_server_and_asks_for_the_target_family() -> None:
    t = task(QUERY, dns_server=SERVER)
    assert destination(t) == ipaddress.ip_address(SERVER)
    pkt = sent(KIND, t)
    assert pkt[IP].dst == SERVER and pkt[UDP].dport == 53
    assert pkt[DNSQR].qname == b"svc.lab." and pkt[DNSQR].qtype == 1
    v6 = sent(KIND, task(QUERY, dst=DST6, dns_server=SERVER))
    assert v6[DNSQR].qtype == 28
    # Without a server the query goes to the target itself.
    assert destination(task(QUERY)) == ipaddress.ip_address(DST)


def test_addresses_errors_and_non_dns() -> None:
    t = task(QUERY, dns_server=SERVER)
    probe = sent(KIND, t)
    ok = KIND.classify(t, route(), probe, [answer(probe, 0, ["10.0.0.7", "fd00::7"])],
                       timeout=1.0, t0=T0)
    assert ok.observation is Observation.ANSWERED
    assert ok.answered_by == ("10.0.0.7", "fd00::7")
    assert ok.detail.startswith(f"svc.lab -> 10.0.0.7, fd00::7 (server {SERVER}")
    servfail = KIND.classify(t, route(), probe, [answer(probe, 2, [])], timeout=1.0, t0=T0)
    assert servfail.observation is Observation.DNS_ERROR
    assert servfail.detail == f"SERVFAIL for svc.lab from {SERVER}"
    nodata = KIND.classify(t, route(), probe, [answer(probe, 0, [])], timeout=1.0, t0=T0)
    assert "NODATA" in nodata.detail and nodata.answered_by == (SERVER,)
    junk = KIND.classify(t, route(), probe, [answer(probe, 0, [], payload=b"\x00")],
                         timeout=1.0, t0=T0)
    assert junk.observation is Observation.DNS_ERROR
    assert junk.detail == f"reply from {SERVER} is not a DNS message"
    silent = KIND.classify(t, route(), probe, [], timeout=1.0, t0=T0)
    assert silent.detail == f"no DNS reply from {SERVER} within 1 s"


def _exp(to: str, literal: bool = False) -> Expectation:
    target = Target(node=to, address=ipaddress.ip_address(to) if literal else None)
    return Expectation(id="dns", source="c1", target=target, probe=QUERY, reachable=True)


def _result(answers: tuple[str, ...]) -> ProbeResult:
    return ProbeResult(
        probe_id="dns", source="c1", target="c2", target_address=ipaddress.ip_address(DST),
        probe=QUERY, observation=Observation.ANSWERED, detail="d", answered_by=answers,
    )


def test_wrong_answer_wants_the_target_among_the_addresses() -> None:
    assert KIND.wrong_answer(_exp("c2"), _result((DST,))) is None
    assert KIND.wrong_answer(_exp("c2"), _result(("10.0.0.9",))) == (
        f"svc.lab resolved to 10.0.0.9, not to c2's {DST}"
    )
    assert KIND.wrong_answer(_exp(DST, literal=True), _result(())) == (
        f"svc.lab resolved to no address, not to {DST}"
    )
    assert KIND.wrong_answer(_exp("c1"), _result(("10.0.0.9",))) is None  # no `to`
