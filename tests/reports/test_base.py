"""Every reporter has one shape (record, plan, optional diff) and sits in the registry; one
write_reports serves the CLI and the pytest plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netcheck.reports  # noqa: F401  (registration happens at import)
from netcheck.baseline import diff_records, with_diff
from netcheck.model.results import RunRecord
from netcheck.reports.base import registered, write_reports
from netcheck.scenario import load_plan
from tests.helpers import ROOT


def test_json_junit_and_html_are_registered() -> None:
    assert {"json", "junit", "html"} <= set(registered())
    for name, factory in registered().items():
        assert factory().name == name


def test_every_reporter_takes_record_plan_and_diff(record: RunRecord, tmp_path: Path) -> None:
    plan = load_plan(str(ROOT / "scenarios" / "quickstart.yaml"), {})
    diff = diff_records(record, record)
    current = with_diff(record, diff)
    targets = {name: tmp_path / f"out.{name}" for name in registered()}
    seen: list[tuple[str, Path]] = []
    write_reports(current, targets, plan=plan, diff=diff, written=lambda *w: seen.append(w))
    assert seen == list(targets.items())
    assert json.loads(targets["json"].read_text())["baseline"]["run_id"] == record.run_id
    assert "junit" in targets and targets["junit"].read_text().startswith("<?xml")
    html = targets["html"].read_text()
    assert f"Compared with baseline run {record.run_id}" in html  # the diff reached HTML
    # Without a plan or a diff a reporter still writes (a record loaded back from a file).
    write_reports(record, {"html": tmp_path / "bare.html"})
    assert "Compared with baseline" not in (tmp_path / "bare.html").read_text()


def test_an_unknown_reporter_is_refused_before_anything_is_written(
    record: RunRecord, tmp_path: Path
) -> None:
    with pytest.raises(KeyError, match="no reporter named pdf"):
        write_reports(record, {"json": tmp_path / "a.json", "pdf": tmp_path / "a.pdf"})
    assert list(tmp_path.iterdir()) == []
