"""Literal targets (`to: 10.20.0.5`, `targets:`) and pinned sources in the HTML report and
its topology picture (pure: a recorded run, no lab)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

from netcheck.model.plan import Expectation, ProbeKind, ProbeSpec, Target
from netcheck.model.results import Observation, Outcome, ProbeResult, RunRecord, Verdict
from netcheck.reports.html import build_matrix, render
from netcheck.reports.jsonreport import JsonReporter, load_record
from netcheck.reports.topology_svg import OUTSIDE, layout
from netcheck.scenario import load_plan
from tests.helpers import ROOT
from tests.reports.conftest import C1, NAS, make_record

ip = ipaddress.ip_address


def _verdict(vid: str, target: str, address: str, outcome: Outcome,
             source_address: str = C1) -> Verdict:
    observation = Observation.ANSWERED if outcome is Outcome.PASS else Observation.SILENT
    result = ProbeResult(probe_id=vid, source="c1", target=target, target_address=ip(address),
                         probe=ProbeSpec(kind=ProbeKind.ICMP), observation=observation,
                         detail="seen", source_address=ip(source_address))
    return Verdict(expectation_id=vid, outcome=outcome, message="m", expected="reachable",
                   observed=observation.value, result=result)


def _record() -> RunRecord:
    base = make_record()
    extra = (
        _verdict("icmp:c1->db", "db", "10.20.0.5", Outcome.FAIL),
        _verdict("icmp:c1->fd00:20::5", "fd00:20::5", "fd00:20::5", Outcome.FAIL),
        _verdict("icmp:c1@pub_net->store", "store", NAS, Outcome.FAIL),
        _verdict("icmp:c1->10.9.9.9", "10.9.9.9", "10.9.9.9", Outcome.PASS),
    )
    return replace(base, verdicts=(*base.verdicts, *extra))


def test_outside_targets_get_a_box_of_their_own() -> None:
    topo = layout(_record())
    outside = {n.name: n.subtitle for n in topo.nodes if n.kind == OUTSIDE}
    # Without the plan, a target written as an address is known to be one; `db` is not.
    assert outside == {"fd00:20::5": "outside address", "10.9.9.9": "outside address"}
    arcs = {(a.source, a.target) for a in topo.arcs}
    assert ("c1", "fd00:20::5") in arcs
    # `store` is nas's address: the arc goes to the machine that holds it.
    assert ("c1", "nas") in arcs


def test_with_the_plan_named_targets_are_boxes_too() -> None:
    plan = load_plan(ROOT / "scenarios" / "existing" / "literal-targets.yaml")
    pg = Expectation(id="icmp:c1->db", source="c1", probe=ProbeSpec(kind=ProbeKind.ICMP),
                     target=Target(node="db", address=ip("10.20.0.5")), reachable=True)
    plan = replace(plan, expectations=(*plan.expectations, pg))
    topo = layout(_record(), plan)
    boxes = {n.name: n.subtitle for n in topo.nodes if n.kind == OUTSIDE}
    assert boxes == {"db": "10.20.0.5"}  # only the plan's literal targets
    html = render(_record(), plan)
    assert 'data-name="db" data-kind="outside"' in html


def test_matrix_rows_keep_the_pinned_source() -> None:
    matrix = build_matrix(_record().verdicts)
    assert "c1@pub_net" in matrix.sources and "c1" in matrix.sources
    assert matrix.cell("c1@pub_net", "store")[0].outcome == "fail"
    assert {"db", "fd00:20::5", "10.9.9.9"} <= set(matrix.targets)


def test_json_round_trip_keeps_literal_targets(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    record = _record()
    JsonReporter().write(record, path)
    back = load_record(path)
    got = {v.expectation_id: (v.result.target, str(v.result.target_address))
           for v in back.verdicts if v.result is not None}
    assert got["icmp:c1->fd00:20::5"] == ("fd00:20::5", "fd00:20::5")
    assert got["icmp:c1->db"] == ("db", "10.20.0.5")
