"""dns-default-bridge: a unit test on a synthetic topology, and for real with Docker."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from netcheck.diagnose import diagnose
from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.plan import Expectation, NodeKind, ProbeKind, ProbeSpec, Target
from netcheck.model.results import (
    Interface,
    Node,
    Observation,
    Outcome,
    ProbeResult,
    Topology,
)
from netcheck.model.sites import ContainerPid
from netcheck.runtime.naming import new_run_id
from netcheck.scenario import load_plan
from tests.diagnose.pathcheck import check_paths
from tests.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "faults" / "dns-default-bridge.yaml"


def _node(name: str, network: str, addr: str) -> Node:
    return Node(
        name=name, kind=NodeKind.ENDPOINT, site=ContainerPid(container=name, pid=999999),
        interfaces=(Interface(ifname="eth0", network=network,
                              address=ipaddress.ip_address(addr),
                              prefix=ipaddress.ip_network("172.17.0.0/16")),),
        resolver=ipaddress.ip_address("127.0.0.11"),
    )


def test_names_the_default_bridge_from_a_synthetic_topology() -> None:
    plan = load_plan(str(SCENARIO), {})
    topo = Topology(run_id="abcdef", runtime="docker", nodes={
        "c1": _node("c1", "bridge", "172.17.0.2"),
        "c2": _node("c2", "bridge", "172.17.0.3"),
        "d1": _node("d1", "app", "172.31.77.2"),
    })
    probe = ProbeSpec(kind=ProbeKind.DNS, qname="c2")

    def pair(src: str) -> tuple[Expectation, ProbeResult]:
        exp = Expectation(id=f"dns/c2:{src}->c2", source=src, target=Target(node="c2"),
                          probe=probe, reachable=False, reason="dns-default-bridge")
        res = ProbeResult(probe_id=exp.id, source=src, target="c2",
                          target_address=ipaddress.ip_address("172.17.0.3"), probe=probe,
                          observation=Observation.DNS_ERROR, detail="NXDOMAIN for c2")
        return exp, res

    found = diagnose(plan, topo, [pair("c1"), pair("d1")])
    (f,) = [x for x in found["dns/c2:c1->c2"] if x.id == "dns-default-bridge"]
    assert "default bridge" in f.summary and "user-defined network" in (f.fix or "")
    assert not any(x.id == "dns-default-bridge" for x in found["dns/c2:d1->c2"])


@pytest.mark.privileged
@pytest.mark.docker
def test_default_bridge_with_docker(docker_client: Any, no_leftovers: None) -> None:
    # docker_client: the test setup starts the daemon (and the probe image); a skip when
    # none answered left this check unrun in CI.
    plan = load_plan(str(SCENARIO), {})
    record = run_plan(plan, RunOptions(runtime="docker", run_id=new_run_id(),
                                       only=("dns/c2:c1->c2",)))
    (v,) = record.verdicts
    assert v.outcome is Outcome.PASS, v.message
    (f,) = [x for x in v.findings if x.id == "dns-default-bridge"]
    assert any("resolv.conf" in line for line in f.evidence)
    # The query went to the resolver, not to c2: nothing may say c2 "is reachable".
    assert not any("is reachable" in x.summary for x in v.findings), v.findings
    check_paths(record)  # a dns probe's path: its resolver is not walked, never "seen"
