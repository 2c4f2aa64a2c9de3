from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.baseline import Baseline, BaselineError, load_baseline, save_baseline, with_diff
from netcheck.baseline.diff import diff_records
from netcheck.baseline.snapshot import ROOT, HostSnapshot, NetnsSnapshot
from netcheck.model.results import Observation as O
from netcheck.model.results import Outcome
from netcheck.reports.jsonreport import JsonReporter
from tests.baseline.records import record, verdict
from tests.helpers import ROOT as REPO


def test_baseline_round_trip(tmp_path: Path) -> None:
    rec = record("a", verdict("icmp:c1->c2", Outcome.PASS, O.ANSWERED))
    snap = HostSnapshot(
        taken_at="t",
        hostname="h",
        kernel="k",
        namespaces={ROOT: NetnsSnapshot(sysctls={"net.ipv4.ip_forward": "1"})},
    )
    path = tmp_path / "base.json"
    save_baseline(path, Baseline(record=rec, snapshot=snap))
    loaded = load_baseline(path)
    assert loaded.record == rec
    assert loaded.snapshot == snap


def test_plain_json_report_is_a_baseline_without_snapshot(tmp_path: Path) -> None:
    rec = record("a", verdict("icmp:c1->c2", Outcome.PASS, O.ANSWERED))
    path = tmp_path / "run.json"
    JsonReporter().write(rec, path)
    loaded = load_baseline(path)
    assert loaded.record == rec and loaded.snapshot is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not JSON"), ('{"netcheck_baseline": 99}', "version 99"), ("[]", "not a JSON object")],
)
def test_bad_baseline_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(BaselineError, match=message):
        load_baseline(path)


def test_missing_baseline_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(tmp_path / "nope.json")


def test_with_diff_makes_silent_regressions_fail_the_record() -> None:
    a = record(
        "a",
        verdict("tcp/5432:c1->db", Outcome.PASS, O.SILENT, reachable=False),
        verdict("icmp:c1->c2", Outcome.PASS, O.ANSWERED),
    )
    b = record(
        "b",
        verdict("tcp/5432:c1->db", Outcome.PASS, O.REFUSED, reachable=False),
        verdict("icmp:c1->c2", Outcome.FAIL, O.SILENT),
    )
    assert not b.ok
    diff = diff_records(a, b)
    out = with_diff(b, diff)
    ids = [v.expectation_id for v in out.verdicts]
    # icmp:c1->c2 already fails on its own: no duplicate; the RST opening gets its own case.
    assert ids == ["tcp/5432:c1->db", "icmp:c1->c2", "baseline:newly-opened:tcp/5432:c1->db"]
    assert out.verdicts[-1].outcome is Outcome.FAIL
    assert out.facts["baseline.regressions"] == "2"
    assert "newly broken: icmp:c1->c2" in out.facts["baseline.diff"]
    json.dumps(dict(out.facts))  # carried by JSON/JUnit as plain strings
    assert out.baseline is not None
    assert (out.baseline.run_id, out.baseline.regressions) == ("a", 2)
    assert out.baseline.diff[0].startswith("newly broken: icmp:c1->c2 (")


# A baseline saved by `netcheck run --save-baseline` of the version before the typed
# environment and the shared codec (scenarios/quickstart.yaml, netns runtime).
OLD = REPO / "tests" / "baseline" / "data" / "baseline-v1.json"


def test_a_baseline_saved_by_the_previous_version_loads(tmp_path: Path) -> None:
    old = load_baseline(OLD)
    assert old.record.scenario == "quickstart"
    assert old.record.verdicts and old.record.topology is not None
    assert old.snapshot is not None and ROOT in old.snapshot.namespaces
    assert old.record.environment is not None  # upgraded from the record's facts
    # Compared with itself, nothing changed; saved again, it reads back the same.
    assert diff_records(old.record, old.record, old.snapshot, old.snapshot).empty
    path = tmp_path / "again.json"
    save_baseline(path, old)
    assert load_baseline(path) == old
    # The document keeps the layout the previous version wrote (plus the typed fields).
    before, after = json.loads(OLD.read_text()), json.loads(path.read_text())
    assert set(before) == set(after)
    assert set(before["record"]) <= set(after["record"])
    # A field added since (static neighbours) is written back empty; nothing else changes.
    for name, ns in after["snapshot"]["namespaces"].items():
        if "neighbours" not in before["snapshot"]["namespaces"][name]:
            assert ns.pop("neighbours") == []
    assert before["snapshot"] == after["snapshot"]


def test_a_broken_snapshot_is_named(tmp_path: Path) -> None:
    doc = json.loads(OLD.read_text())
    doc["snapshot"]["namespaces"]["host"]["routes"] = "default via x"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match=r"snapshot\.namespaces\.host\.routes: expected a list"):
        load_baseline(path)


def test_the_baseline_package_does_not_import_the_reports() -> None:
    code = (
        "import sys, netcheck.baseline, netcheck.model.codec\n"
        "bad = sorted(m for m in sys.modules if m.startswith('netcheck.reports'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
