"""Real packets in real namespaces: every observation kind actually happens.

Lab (all `nctest-<token>-*`, removed at the end of the module):

    a 10.77.0.1  b 10.77.0.2  m 10.77.0.4 (MTU 1300)  c1, c2 both 10.77.0.50
      \\___________ bridge br0 in `sw` ____________/
    r 10.77.0.254 -- 10.78.0.1 ==MTU 1300== 10.78.0.2 far
    r: forwards; `unreachable 10.79.0.0/24`.  a routes 10.78/24 and 10.79/24 via r.
    b listens on tcp/80, udp/5353 (Responders) and serves DNS on udp/53 (a thread here).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from scapy.layers.dns import DNS, DNSRR

from netcheck.model.plan import Port, ProbeKind, ProbeSpec
from netcheck.model.results import Observation, ProbeResult
from netcheck.model.sites import NamespacePath
from netcheck.probes import ListenTask, ProbeTask, Responders, run_probes, run_workers
from netcheck.probes._netns import enter_netns
from tests.probes.lab import Lab

pytestmark = pytest.mark.privileged

TIMEOUT = 1.0
DNS_NAME = "svc.lab."
DNS_ADDR = "10.77.0.2"


@dataclass
class Live:
    lab: Lab
    responders: Responders


def _dns_server(path: str, ready: threading.Event, stop: threading.Event) -> None:
    """A tiny authoritative server: `svc.lab` -> 10.77.0.2, anything else NXDOMAIN."""
    enter_netns(path)  # this thread only
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 53))
        sock.settimeout(0.1)
        ready.set()
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            query = DNS(data)
            qname = query.qd[0].qname.decode()
            if qname == DNS_NAME:
                reply = DNS(
                    id=query.id,
                    qr=1,
                    aa=1,
                    rd=query.rd,
                    qd=query.qd,
                    an=[DNSRR(rrname=qname, type="A", rdata=DNS_ADDR, ttl=5)],
                )
            else:
                reply = DNS(id=query.id, qr=1, aa=1, rd=query.rd, rcode=3, qd=query.qd)
            sock.sendto(bytes(reply), peer)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    lab = Lab()
    stop = threading.Event()
    try:
        lab.bridge()
        lab.wire("a", ["10.77.0.1/24", "fd77::1/64"])
        lab.wire("b", ["10.77.0.2/24", "fd77::2/64"])
        lab.wire("m", ["10.77.0.4/24"], mtu=1300)
        lab.wire("c1", ["10.77.0.50/24"])
        lab.wire("c2", ["10.77.0.50/24"])
        lab.wire("r", ["10.77.0.254/24"])
        lab.create("far")
        lab.veth("r", "far", "10.78.0.1/24", "10.78.0.2/24", mtu=1300)
        lab.sysctl("r", "net.ipv4.ip_forward", "1")
        lab.route("r", "10.79.0.0/24", rtype="unreachable")
        lab.route("a", "10.78.0.0/24", gateway="10.77.0.254")
        for node in ("a", "b", "m"):
            lab.route(node, "10.79.0.0/24", gateway="10.77.0.254")
        lab.route("far", "10.77.0.0/24", gateway="10.78.0.1")
        ready = threading.Event()
        dns = threading.Thread(target=_dns_server, args=(lab.path("b"), ready, stop), daemon=True)
        dns.start()
        assert ready.wait(5), "DNS test server did not start"
        ports = (Port(proto=ProbeKind.TCP, number=80), Port(proto=ProbeKind.UDP, number=5353))
        task = ListenTask(node="b", site=NamespacePath(path=lab.path("b")), ports=ports)
        with Responders([task]) as resp:
            yield Live(lab=lab, responders=resp)
    finally:
        stop.set()
        lab.close()


def task(live: Live, src: str, dst: str, spec: ProbeSpec, dns: str | None = None) -> ProbeTask:
    return ProbeTask(
        probe_id=f"{spec}:{src}->{dst}",
        source=src,
        source_site=NamespacePath(path=live.lab.path(src)),
        target=dst,
        target_address=ipaddress.ip_address(dst),
        probe=spec,
        dns_server=ipaddress.ip_address(dns) if dns else None,
    )


def run(tasks: list[ProbeTask]) -> list[ProbeResult]:
    results = run_probes(tasks, TIMEOUT)
    assert [r.probe_id for r in results] == [t.probe_id for t in tasks]
    return results


ICMP = ProbeSpec(kind=ProbeKind.ICMP)
ARP = ProbeSpec(kind=ProbeKind.ARP)


def tcp(port: int) -> ProbeSpec:
    return ProbeSpec(kind=ProbeKind.TCP, port=port)


def udp(port: int) -> ProbeSpec:
    return ProbeSpec(kind=ProbeKind.UDP, port=port)


def test_icmp_answered_and_silent(live: Live) -> None:
    ok, dead = run([task(live, "a", "10.77.0.2", ICMP), task(live, "a", "10.77.0.99", ICMP)])
    assert ok.observation is Observation.ANSWERED, ok.detail
    assert ok.rtt_ms is not None and ok.answered_by == ("10.77.0.2",)
    assert ok.source_interface == "eth0" and str(ok.source_address) == "10.77.0.1"
    assert ok.sent and ok.received and "echo-reply" in ok.received[0].summary
    assert dead.observation is Observation.SILENT, dead.detail
    assert dead.sent and not dead.received


def test_tcp_synack_against_responder_and_rst_on_closed_port(live: Live) -> None:
    open_, closed = run(
        [task(live, "a", "10.77.0.2", tcp(80)), task(live, "a", "10.77.0.2", tcp(81))]
    )
    assert open_.observation is Observation.ANSWERED, open_.detail
    assert "SYN-ACK" in open_.detail
    assert closed.observation is Observation.REFUSED, closed.detail
    assert "RST" in closed.detail


def test_udp_echo_and_port_unreachable(live: Live) -> None:
    echo, closed = run(
        [task(live, "a", "10.77.0.2", udp(5353)), task(live, "a", "10.77.0.2", udp(5354))]
    )
    assert echo.observation is Observation.ANSWERED, echo.detail
    assert closed.observation is Observation.REFUSED, closed.detail
    assert "port unreachable" in closed.detail


def test_arp_answered_and_conflict(live: Live) -> None:
    one, two = run([task(live, "a", "10.77.0.2", ARP), task(live, "a", "10.77.0.50", ARP)])
    assert one.observation is Observation.ANSWERED, one.detail
    assert one.answered_by == (live.lab.mac("b"),)
    assert two.observation is Observation.CONFLICT, two.detail
    assert set(two.answered_by) == {live.lab.mac("c1"), live.lab.mac("c2")}


def test_arp_needs_an_on_link_target(live: Live) -> None:
    (r,) = run([task(live, "a", "10.78.0.2", ARP)])
    assert r.observation is Observation.ERROR
    assert "not on-link for ARP" in r.detail


def test_df_too_big_locally_vs_ok(live: Live) -> None:
    ok, big = run(
        [
            task(live, "m", "10.77.0.2", ProbeSpec(kind=ProbeKind.ICMP, size=1200)),
            task(live, "m", "10.77.0.2", ProbeSpec(kind=ProbeKind.ICMP, size=1400)),
        ]
    )
    assert ok.observation is Observation.ANSWERED, ok.detail
    assert big.observation is Observation.TOO_BIG, big.detail
    assert "local MTU 1300" in big.detail


def test_frag_needed_from_router_reports_next_hop_mtu(live: Live) -> None:
    small, big = run(
        [
            task(live, "a", "10.78.0.2", ICMP),
            task(live, "a", "10.78.0.2", ProbeSpec(kind=ProbeKind.ICMP, size=1400)),
        ]
    )
    assert small.observation is Observation.ANSWERED, small.detail
    assert big.observation is Observation.ICMP_ERROR, big.detail
    assert "fragmentation needed (next-hop MTU 1300) from 10.77.0.254" in big.detail


def test_icmp_errors_from_router_match_each_probe_kind(live: Live) -> None:
    # One source each: the router rate-limits ICMP errors per destination host.
    results = run(
        [
            task(live, "a", "10.79.0.1", ICMP),
            task(live, "b", "10.79.0.1", tcp(80)),
            task(live, "m", "10.79.0.1", udp(53)),
        ]
    )
    for r in results:
        assert r.observation is Observation.ICMP_ERROR, (r.probe_id, r.detail)
        assert r.received and "dest-unreach" in r.received[0].summary
        assert r.detail.endswith("from 10.77.0.254")
        assert r.answered_by == ("10.77.0.254",)


def test_no_route_is_error_not_silent(live: Live) -> None:
    (r,) = run([task(live, "a", "192.0.2.1", ICMP)])
    assert r.observation is Observation.ERROR
    assert r.detail.startswith("could not send: ")
    assert "no route to host" in r.detail


def test_dns_answered_and_nxdomain(live: Live) -> None:
    ok, nx = run(
        [
            task(live, "a", "10.77.0.2", ProbeSpec(kind=ProbeKind.DNS, qname="svc.lab")),
            task(live, "a", "10.77.0.2", ProbeSpec(kind=ProbeKind.DNS, qname="nope.lab")),
        ]
    )
    assert ok.observation is Observation.ANSWERED, ok.detail
    assert ok.answered_by == (DNS_ADDR,)
    assert nx.observation is Observation.DNS_ERROR, nx.detail
    assert "NXDOMAIN" in nx.detail


def test_dns_to_a_closed_port_is_refused(live: Live) -> None:
    (r,) = run([task(live, "a", "10.77.0.4", ProbeSpec(kind=ProbeKind.DNS, qname="svc.lab"))])
    assert r.observation is Observation.REFUSED, r.detail


def test_ipv6_echo_and_neighbour_discovery(live: Live) -> None:
    echo, ndp = run([task(live, "a", "fd77::2", ICMP), task(live, "a", "fd77::2", ARP)])
    assert echo.observation is Observation.ANSWERED, echo.detail
    assert ndp.observation is Observation.ANSWERED, ndp.detail
    assert ndp.answered_by == (live.lab.mac("b"),)


def test_unreachable_probes_of_several_namespaces_go_out_in_one_batch_each(live: Live) -> None:
    dead = [f"10.77.0.{i}" for i in range(200, 206)]
    tasks = [task(live, src, d, ICMP) for src in ("a", "b", "m") for d in dead]
    seen: list[str] = []
    results, reports = run_workers(tasks, TIMEOUT, lambda r: seen.append(r.probe_id))
    assert all(r.observation is Observation.SILENT for r in results), [r.detail for r in results]
    assert sorted(seen) == sorted(t.probe_id for t in tasks)
    assert sorted(rep.netns for rep in reports) == sorted(live.lab.path(n) for n in "abm")
    assert len({rep.pid for rep in reports}) == 3
    for rep in reports:
        assert rep.error is None
        assert [(b.name, b.packets, b.answered) for b in rep.batches] == [("ipv4", 6, 0)]


def test_icmp_to_own_address_is_answered_over_lo(live: Live) -> None:
    (own,) = run([task(live, "a", "10.77.0.1", ICMP)])
    assert own.observation is Observation.ANSWERED, own.detail
    assert own.answered_by == ("10.77.0.1",)
    assert own.received and own.received[0].summary == (
        "IP / ICMP 10.77.0.1 > 10.77.0.1 echo-reply 0 / Raw"
    )


def test_a_full_mesh_reads_only_its_own_replies(live: Live) -> None:
    """The socket filter keeps the other workers' probes and this namespace's answers to
    them (outgoing copies) away from Python, including those queued before it was attached."""
    nodes = {"a": "10.77.0.1", "b": "10.77.0.2", "m": "10.77.0.4"}
    tasks = [task(live, s, d, ICMP) for s in nodes for n, d in nodes.items() if n != s]
    results, reports = run_workers(tasks, TIMEOUT)
    assert all(r.observation is Observation.ANSWERED for r in results), [
        r.detail for r in results
    ]
    assert all(r.received and "echo-reply" in r.received[0].summary for r in results)
    for rep in reports:
        assert [(b.name, b.answered, b.frames) for b in rep.batches] == [("ipv4", 2, 2)]


def test_a_worker_that_cannot_enter_its_namespace_reports_errors(live: Live) -> None:
    missing = "/run/netns/nctest-does-not-exist"
    t = ProbeTask(
        probe_id="icmp:x->a",
        source="x",
        source_site=NamespacePath(path=missing),
        target="a",
        target_address=ipaddress.ip_address("10.77.0.1"),
        probe=ICMP,
    )
    ok, bad = run([task(live, "b", "10.77.0.1", ICMP), t])
    assert ok.observation is Observation.ANSWERED
    assert bad.observation is Observation.ERROR
    assert missing in bad.detail and "FileNotFoundError" in bad.detail


def test_a_hung_worker_is_killed_and_reported(live: Live) -> None:
    t = task(live, "a", "10.77.0.99", ICMP)
    results, reports = run_workers([t], TIMEOUT, margin=-0.5)
    assert results[0].observation is Observation.ERROR
    assert "did not finish" in results[0].detail and "killed" in results[0].detail
    assert reports[0].pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(reports[0].pid, 0)


def test_responders_run_until_exit(live: Live) -> None:
    lab = live.lab
    with Responders(
        [ListenTask(node="a", site=NamespacePath(path=lab.path("a")),
                    ports=(Port(proto=ProbeKind.TCP, number=8080),))]
    ) as resp:
        pid = resp.pids["a"]
        os.kill(pid, 0)
        (r,) = run([task(live, "b", "10.77.0.1", tcp(8080))])
        assert r.observation is Observation.ANSWERED, r.detail
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_responders_refuse_a_port_in_use(live: Live) -> None:
    from netcheck.errors import RuntimeBuildError

    lab = live.lab
    taken = (Port(proto=ProbeKind.TCP, number=80),)
    responders = Responders(
        [ListenTask(node="b", site=NamespacePath(path=lab.path("b")), ports=taken)])
    with pytest.raises(RuntimeBuildError, match="cannot listen on tcp/80"), responders:
        pass
