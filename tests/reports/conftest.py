"""Synthetic but realistic run records: what the engine hands reporters after a run."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from netcheck.model.plan import NodeKind, Port, ProbeKind, ProbeSpec
from netcheck.model.results import (
    Environment,
    Finding,
    Interface,
    Node,
    Observation,
    Outcome,
    Packet,
    ProbeResult,
    RunRecord,
    Topology,
    Verdict,
)
from netcheck.model.sites import NamespacePath

ip = ipaddress.ip_address
net = ipaddress.ip_network

C1, C2, NAS, HOST1 = "172.16.86.10", "172.16.86.129", "172.16.86.20", "172.16.86.250"


def _topology() -> Topology:
    nodes = {
        "c1": Node(
            name="c1",
            kind=NodeKind.ENDPOINT,
            site=NamespacePath(path="/run/netns/nc-ab12cd-c1"),
            host="host1",
            interfaces=(
                Interface(
                    ifname="eth0",
                    network="pub_net",
                    address=ip(C1),
                    prefix=net("172.16.86.0/24"),
                    mac="02:42:ac:10:56:0a",
                    kind="macvlan",
                    parent="host1:eth0",
                    mode="bridge",
                ),
                Interface(
                    ifname="eth1",
                    network="v6net",
                    address=ip("fd00:86::10"),
                    prefix=net("fd00:86::/64"),
                ),
            ),
            listen=(Port(proto=ProbeKind.TCP, number=80),),
            resolver=ip("127.0.0.11"),
        ),
        "host1": Node(
            name="host1",
            kind=NodeKind.HOST,
            site=NamespacePath(path="/run/netns/nc-ab12cd-host1"),
            interfaces=(Interface(ifname="eth0", network="lan", address=ip(HOST1), prefix=None),),
        ),
        "nas": Node(
            name="nas",
            kind=NodeKind.MACHINE,
            site=NamespacePath(path="/run/netns/nc-ab12cd-nas"),
            interfaces=(
                Interface(
                    ifname="eth0", network="lan", address=ip(NAS), prefix=net("172.16.86.0/24")
                ),
            ),
            listen=(Port(proto=ProbeKind.TCP, number=445),),
        ),
    }
    return Topology(
        run_id="ab12cd",
        runtime="netns",
        nodes=nodes,
        facts={"kernel": "6.1.0-test", "unprivileged_userns": "1"},
    )


RP_FILTER = Finding(
    id="rp-filter",
    summary="nas drops replies arriving on the wrong interface (rp_filter=1)",
    evidence=(
        "net.ipv4.conf.all.rp_filter=1 on nas",
        "route get 172.16.86.10 iif eth0: EXDEV",
        "kfree_skb reason IP_RPFILTER x3",
    ),
    fix="sysctl -w net.ipv4.conf.all.rp_filter=2 on nas",
)


def verdicts() -> tuple[Verdict, ...]:
    arp = ProbeResult(
        probe_id="arp:c1->c2",
        source="c1",
        target="c2",
        target_address=ip(C2),
        probe=ProbeSpec(kind=ProbeKind.ARP),
        observation=Observation.ANSWERED,
        detail="is-at 02:42:ac:10:56:81",
        rtt_ms=0.212,
        sent=(Packet(summary="ARP who has 172.16.86.129 says 172.16.86.10", time=0.0),),
        received=(
            Packet(
                summary="ARP is at 02:42:ac:10:56:81 says 172.16.86.129",
                src="02:42:ac:10:56:81",
                dst="02:42:ac:10:56:0a",
                time=0.0002,
            ),
        ),
        answered_by=("02:42:ac:10:56:81",),
        source_interface="eth0",
        source_address=ip(C1),
    )
    isolated = ProbeResult(
        probe_id="icmp:c1->host1",
        source="c1",
        target="host1",
        target_address=ip(HOST1),
        probe=ProbeSpec(kind=ProbeKind.ICMP),
        observation=Observation.SILENT,
        detail="no echo reply in 1.0 s",
        sent=(
            Packet(
                summary="IP / ICMP 172.16.86.10 > 172.16.86.250 echo-request 0",
                src=C1,
                dst=HOST1,
                time=0.0,
            ),
        ),
    )
    rp = ProbeResult(
        probe_id="icmp/df/1400:c1->nas",
        source="c1",
        target="nas",
        target_address=ip(NAS),
        probe=ProbeSpec(kind=ProbeKind.ICMP, size=1400),
        observation=Observation.SILENT,
        detail="no echo reply in 1.0 s",
        sent=(
            Packet(
                summary="IP / ICMP 172.16.86.10 > 172.16.86.20 echo-request 0 / Raw",
                src=C1,
                dst=NAS,
                time=0.0,
            ),
        ),
        source_interface="eth0",
        source_address=ip(C1),
    )
    v6 = ProbeResult(
        probe_id="tcp/80:c2->c1",
        source="c2",
        target="c1@v6net",
        target_address=ip("fd00:86::10"),
        probe=ProbeSpec(kind=ProbeKind.TCP, port=80),
        observation=Observation.ERROR,
        detail="could not send: Network is unreachable",
    )
    return (
        Verdict(
            expectation_id="arp:c1->c2",
            outcome=Outcome.PASS,
            message="expected reachable, observed answered",
            expected="reachable",
            observed="answered",
            result=arp,
            duration_s=0.0123,
        ),
        Verdict(
            expectation_id="icmp:c1->host1",
            outcome=Outcome.PASS,
            message="expected unreachable (macvlan-host-isolation), observed silent",
            expected="unreachable (macvlan-host-isolation)",
            observed="silent",
            result=isolated,
            duration_s=1.002,
        ),
        Verdict(
            expectation_id="icmp/df/1400:c1->nas",
            outcome=Outcome.FAIL,
            message="expected reachable, observed silent: no echo reply in 1.0 s",
            expected="reachable",
            observed="silent",
            result=rp,
            findings=(RP_FILTER,),
            duration_s=1.004,
        ),
        Verdict(
            expectation_id="tcp/80:c2->c1@v6net",
            outcome=Outcome.ERROR,
            message="could not test: could not send: Network is unreachable",
            expected="reachable",
            observed="could not send: Network is unreachable",
            result=v6,
            duration_s=0.004,
        ),
        Verdict(
            expectation_id="icmp:c3->c1",
            outcome=Outcome.SKIP,
            message="skipped: kernel lacks ipvlan",
            expected="reachable",
            observed="kernel lacks ipvlan",
        ),
        Verdict(
            # Names come from YAML: markup, XML specials and an emoji code must stay literal.
            expectation_id="icmp:<script>&[red]x[/red]->c2",
            outcome=Outcome.FAIL,
            message='expected reachable, observed silent: "a<b" & c :smile:',
            expected="reachable",
            observed="silent [bold]",
            findings=(
                Finding(
                    id="no-route",
                    summary="no route from [red]x[/red] to c2",
                    evidence=("route get: <none>",),
                    fix="add a route & retry",
                ),
            ),
            duration_s=1.0,
        ),
    )


def make_record(**overrides: object) -> RunRecord:
    fields: dict[str, object] = {
        "run_id": "ab12cd",
        "scenario": "quickstart",
        "source": "scenarios/quickstart.yaml",
        "runtime": "netns",
        "started_at": "2026-11-22T10:47:14.123456+00:00",
        "duration_s": 3.75,
        "phase_s": {"build": 1.5, "probe": 1.1, "diagnose": 0.2, "teardown": 0.9},
        "facts": {"kernel": "6.1.0-test", "netcheck_version": "0.1.0", "hostname": "ci-7"},
        "environment": Environment(
            kernel="6.1.0-test", hostname="ci-7", netcheck_version="0.1.0", python="3.11.2"
        ),
        "verdicts": verdicts(),
        "topology": _topology(),
        "timeout_s": 1.0,
    }
    fields.update(overrides)
    return RunRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def record() -> RunRecord:
    return make_record()


@pytest.fixture
def record_factory() -> Callable[..., RunRecord]:
    return make_record
