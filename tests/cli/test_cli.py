"""The command line end to end: real processes, real namespaces, real packets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xmlschema
from junitparser import JUnitXml

from tests.helpers import ROOT, dead_run_namespaces, netcheck, netcheck_namespaces, run_id_of

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
JUNIT_XSD = ROOT / "tests" / "reports" / "data" / "junit-common.xsd"


def test_validate_quickstart() -> None:
    proc = netcheck("validate", str(QUICKSTART), "--list")
    assert proc.returncode == 0, proc.stderr
    assert "icmp:c1->c2" in proc.stdout


def test_validate_error_has_place_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICKSTART.read_text().replace("driver: macvlan", "driver: macvlam"))
    proc = netcheck("validate", str(bad))
    assert proc.returncode == 2
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "macvlam" in t)
    assert f"{bad}:{line}:" in proc.stderr
    assert "macvlan" in proc.stderr  # the did-you-mean


def test_validate_prints_a_warning_with_its_place_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    text = QUICKSTART.read_text() + (
        "  - from: c1\n"
        "    to: 198.51.100.7\n"
        "    probe: icmp\n"
    )
    path.write_text(text)
    proc = netcheck("validate", str(path), "--list")
    assert proc.returncode == 0, proc.stderr
    line = text.splitlines().index("    to: 198.51.100.7") + 1
    warning = " ".join(proc.stderr.split())  # rich wraps long lines on stderr
    assert f"warning {path}:{line}: expectations[" in warning
    assert "198.51.100.7 is outside every network c1 is on (pub_net 172.16.86.0/24)" in warning
    assert "icmp:c1->198.51.100.7" in proc.stdout


def test_schema_is_json() -> None:
    proc = netcheck("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert "properties" in schema or "$defs" in schema


@pytest.mark.privileged
def test_bad_scenario_builds_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICKSTART.read_text().replace("ip: 172.16.86.10", "ip: 10.9.9.9"))
    before = netcheck_namespaces()
    proc = netcheck("run", str(bad), "--no-reports")
    assert proc.returncode == 2, proc.stderr
    assert not dead_run_namespaces(netcheck_namespaces() - before)


@pytest.mark.privileged
def test_run_quickstart_writes_junit_and_json(tmp_path: Path, no_leftovers: None) -> None:
    junit, record = tmp_path / "junit.xml", tmp_path / "run.json"
    proc = netcheck("run", str(QUICKSTART), "--runtime", "netns",
                    "--junit", str(junit), "--json", str(record))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(junit))
    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite in xml for case in suite]
    names = {c.name for c in cases}
    assert {"icmp:c1->c2", "tcp/80:c2->c1", "arp:c1->c2", "icmp:c1->host1"} <= names
    assert all(c.is_passed for c in cases)
    data = json.loads(record.read_text())
    isolation = [v for v in data["verdicts"] if v["expectation_id"] == "icmp:c1->host1"]
    assert isolation and isolation[0]["outcome"] == "pass"
    assert any(f["id"] == "macvlan-host-isolation" for f in isolation[0]["findings"])


@pytest.mark.privileged
def test_only_selects_and_a_wrong_expectation_fails(tmp_path: Path, no_leftovers: None) -> None:
    wrong = tmp_path / "wrong.yaml"
    # Claim the host is reachable: the kernel's macvlan isolation must make this fail.
    wrong.write_text(QUICKSTART.read_text().replace("reachable: false\n", "reachable: true\n")
                     .replace("    reason: macvlan-host-isolation\n", ""))
    record = tmp_path / "run.json"
    proc = netcheck("run", str(wrong), "--runtime", "netns", "--only", "icmp:c1->*",
                    "--timeout", "0.5", "--json", str(record))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(record.read_text())
    ids = {v["expectation_id"]: v for v in data["verdicts"]}
    assert set(ids) == {"icmp:c1->c2", "icmp:c1->router", "icmp:c1->nas", "icmp:c1->host1"}
    failed = ids["icmp:c1->host1"]
    assert failed["outcome"] == "fail"
    assert "expected reachable" in failed["message"]
    assert [f["id"] for f in failed["findings"]] == ["macvlan-host-isolation"]


@pytest.mark.privileged
def test_sigterm_tears_down(tmp_path: Path) -> None:
    before = netcheck_namespaces()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcheck", "run", str(QUICKSTART), "--runtime", "netns",
         "--no-reports", "--timeout", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not run_id_of(proc.pid):
        time.sleep(0.05)
    assert run_id_of(proc.pid), "the run never registered itself"
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not dead_run_namespaces(netcheck_namespaces() - before)


def _one_line_per_verdict(stdout: str, verdicts: list[dict[str, object]]) -> None:
    lines = stdout.splitlines()
    for v in verdicts:
        head = f"{str(v['outcome']).upper()} {v['expectation_id']}  expected "
        mine = [line for line in lines if line.startswith(head)]
        assert len(mine) == 1, (head, stdout)
        observed = " ".join(str(v["observed"]).split())
        assert f"; observed {observed}" in mine[0], (observed, mine[0])  # never split


@pytest.mark.privileged
def test_piped_output_is_one_line_per_verdict_and_reports_go_per_run(
    tmp_path: Path, no_leftovers: None
) -> None:
    reports = tmp_path / "reports"
    full = netcheck("run", str(QUICKSTART), "--runtime", "netns", "--reports", str(reports))
    assert full.returncode == 0, full.stdout + full.stderr
    folder = reports / "quickstart"
    first = (folder / "latest").resolve()
    data = json.loads((first / "run.json").read_text())
    assert len(data["verdicts"]) == 14
    assert first.name == data["run_id"]
    assert {p.name for p in first.iterdir()} == {"run.json", "junit.xml", "report.html"}
    _one_line_per_verdict(full.stdout, data["verdicts"])
    assert "\u2501" not in full.stdout and "\u2500" not in full.stdout  # no table rules

    # An --only run gets a folder of its own: the full run's reports stay as they were.
    before = (first / "run.json").read_bytes()
    only = netcheck("run", str(QUICKSTART), "--runtime", "netns", "--reports", str(reports),
                    "--only", "icmp:c1->*")
    assert only.returncode == 0, only.stdout + only.stderr
    second = (folder / "latest").resolve()
    assert second != first
    assert (first / "run.json").read_bytes() == before
    assert len(json.loads((second / "run.json").read_text())["verdicts"]) == 4
    assert not list(tmp_path.glob("reports/*.json"))  # nothing at the old flat names
