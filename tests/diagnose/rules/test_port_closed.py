"""port-closed: a DNS refusal comes from the resolver the query went to, not the target."""

from __future__ import annotations

from netcheck.diagnose import Case
from netcheck.diagnose.rules.port_closed import PortClosed
from netcheck.model.plan import Lab, NodeKind, Plan, ProbeKind, ProbeSpec
from netcheck.model.results import Observation, Topology
from tests.diagnose.stubs import StubLive, node, pair

PLAN = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=(), endpoints=(),
            expectations=())
C1 = node("c1", ("eth0", "bridge", "172.17.0.2", "172.17.0.0/16"), kind=NodeKind.ENDPOINT,
          resolver="172.16.86.53")
C2 = node("c2", ("eth0", "bridge", "172.17.0.3", "172.17.0.0/16"), kind=NodeKind.ENDPOINT)
TOPO = Topology(run_id="abcdef", runtime="docker", nodes={"c1": C1, "c2": C2})


def case(probe: ProbeSpec, answered_by: tuple[str, ...]) -> Case:
    exp, res = pair("c1", "c2", "172.17.0.3", probe, Observation.REFUSED,
                    "ICMP port unreachable: port closed", answered_by=answered_by)
    return Case(expectation=exp, result=res, plan=PLAN, topology=TOPO, live=StubLive())


def test_a_dns_refusal_names_the_resolver_not_the_target() -> None:
    f = PortClosed().explain(case(ProbeSpec(kind=ProbeKind.DNS, qname="c2"),
                                  ("172.16.86.53",)))
    assert f is not None
    assert "is reachable" not in f.summary and "c2 is" not in f.summary
    assert f.summary.startswith("the DNS server 172.16.86.53 that c1 asks refused")
    assert "c1 sent the query to 172.16.86.53, not to c2" in f.evidence


def test_a_tcp_refusal_is_the_target_port() -> None:
    f = PortClosed().explain(case(ProbeSpec(kind=ProbeKind.TCP, port=80), ("172.17.0.3",)))
    assert f is not None and f.summary == "c2 is reachable but nothing listens on tcp/80"
