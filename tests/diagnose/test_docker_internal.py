"""docker-internal for real: a container only on an --internal network, with Docker."""

from __future__ import annotations

import shutil

import pytest

from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.results import Outcome
from netcheck.runtime.naming import new_run_id
from netcheck.scenario import load_plan
from tests.diagnose.pathcheck import check_paths
from tests.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "faults" / "docker-internal.yaml"


@pytest.mark.privileged
@pytest.mark.docker
def test_internal_network_with_docker(no_leftovers: None) -> None:
    if shutil.which("dockerd") is None:  # lab mode: one dockerd per lab host
        pytest.skip("dockerd is not installed")
    plan = load_plan(str(SCENARIO), {})
    record = run_plan(plan, RunOptions(runtime="docker", run_id=new_run_id()))
    bad = [(v.expectation_id, v.message) for v in record.verdicts
           if v.outcome is not Outcome.PASS]
    assert not bad, bad
    for v in record.verdicts:
        if v.expectation_id.endswith(":db->nas"):
            first = v.findings[0]
            assert first.id == "docker-internal", [f.id for f in v.findings]
            assert "created by this run with --internal" in "\n".join(first.evidence)
            # The NAS has a route back: "no route back" would be the old wrong explanation.
            assert not any(f.id == "no-route" for f in v.findings)
    check_paths(record)  # every silent probe says where its packet died
