"""Post-change validation end to end: save a baseline, break the lab on purpose, run again.

The lab: two LANs joined by the lab router. The "change" flips the router's ip_forward through
a scenario variable, the way an operator's sysctl change would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml

from netcheck.baseline import load_baseline
from tests.helpers import netcheck, netcheck_namespaces

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

LAB = """\
name: two-lans
description: two LANs joined by the lab router
variables:
  FORWARD: "true"
lab:
  lans:
    office: {subnet: 10.61.1.0/24, gateway: 10.61.1.1}
    servers: {subnet: 10.61.2.0/24, gateway: 10.61.2.1}
  router:
    forward: ${FORWARD}
  machines:
    pc: {lan: office, ip: 10.61.1.10}
    db: {lan: servers, ip: 10.61.2.20, listen: [tcp/5432]}
expectations:
"""

REACH = """\
  - from: pc
    to: db
    probe: [icmp, tcp/5432]
  - from: pc
    to: router
    probe: icmp
"""

# Nothing listens on 5433: once routed, db answers with a RST. "Unreachable" still passes
# (no SYN-ACK), but the path opened: the diff must say so and the run must fail.
CLOSED = """\
  - from: pc
    to: db
    probe: tcp/5433
    reachable: false
"""


def scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "two-lans.yaml"
    path.write_text(LAB + body)
    return path


def test_router_forwarding_turned_off_is_a_regression_with_its_cause(tmp_path: Path) -> None:
    scen = scenario(tmp_path, REACH)
    base = tmp_path / "base.json"
    first = netcheck(
        "run",
        str(scen),
        "--runtime",
        "netns",
        "--save-baseline",
        str(base),
        "--no-reports",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    saved = load_baseline(base)
    assert saved.record.ok
    assert saved.snapshot is not None
    assert saved.snapshot.namespaces["router"].sysctls["net.ipv4.ip_forward"] == "1"

    second = netcheck(
        "run",
        str(scen),
        "--runtime",
        "netns",
        "--set",
        "FORWARD=false",
        "--baseline",
        str(base),
        "--json",
        "after.json",
        "--junit",
        "after.xml",
        "--html",
        "after.html",
        cwd=tmp_path,
    )
    out = second.stdout
    assert second.returncode == 1, out + second.stderr
    assert "2 regression(s)" in out
    assert "newly broken: icmp:pc->db (pass: answered -> fail: silent)" in out
    assert "newly broken: tcp/5432:pc->db" in out
    assert "router: ip_forward went 1 -> 0" in out  # the cause, named
    assert "icmp:pc->router" not in out.split("regression(s)")[1]  # unchanged path: not listed

    facts = json.loads((tmp_path / "after.json").read_text())["facts"]
    assert facts["baseline.regressions"] == "2"
    assert "router: ip_forward went 1 -> 0" in facts["baseline.diff"]
    suite = next(iter(JUnitXml.fromfile(str(tmp_path / "after.xml"))))
    props = {p.name: p.value for p in suite.properties()}
    assert props["fact.baseline.regressions"] == "2"
    html = (tmp_path / "after.html").read_text()
    assert 'id="baseline-diff"' in html and "ip_forward went 1 -&gt; 0" in html

    # The same comparison, offline.
    after_base = tmp_path / "after-base.json"
    third = netcheck(
        "run",
        str(scen),
        "--runtime",
        "netns",
        "--set",
        "FORWARD=false",
        "--save-baseline",
        str(after_base),
        "--no-reports",
        cwd=tmp_path,
    )
    assert third.returncode == 1
    offline = netcheck("diff", str(base), str(after_base), cwd=tmp_path)
    assert offline.returncode == 1
    assert "newly broken: icmp:pc->db" in offline.stdout
    assert "router: ip_forward went 1 -> 0" in offline.stdout
    run_ids = {
        saved.record.run_id,
        load_baseline(after_base).record.run_id,
        json.loads((tmp_path / "after.json").read_text())["run_id"],
    }
    left = {n for n in netcheck_namespaces() if n.split("-")[1] in run_ids}
    assert not left, f"left behind: {left}"


def test_opened_path_fails_the_run_even_when_expectations_pass(tmp_path: Path) -> None:
    scen = scenario(tmp_path, CLOSED)
    base = tmp_path / "base.json"
    first = netcheck(
        "run",
        str(scen),
        "--runtime",
        "netns",
        "--set",
        "FORWARD=false",
        "--save-baseline",
        str(base),
        "--no-reports",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    second = netcheck(
        "run",
        str(scen),
        "--runtime",
        "netns",
        "--baseline",
        str(base),
        "--junit",
        "after.xml",
        "--json",
        "after.json",
        cwd=tmp_path,
    )
    out = second.stdout
    assert "1 passed, 0 failed" in out  # the scenario's own expectation still holds
    assert second.returncode == 1, out + second.stderr
    assert (
        "newly opened: tcp/5433:pc->db (pass: silent -> pass: refused) "
        "[not expected to open]" in " ".join(out.split())
    )
    assert "router: ip_forward went 0 -> 1" in out
    cases = {c.name: c for s in JUnitXml.fromfile(str(tmp_path / "after.xml")) for c in s}
    assert not cases["baseline:newly-opened:tcp/5433:pc->db"].is_passed
    assert json.loads((tmp_path / "after.json").read_text())["ok"] is False


def test_no_change_no_regression(tmp_path: Path) -> None:
    scen = scenario(tmp_path, REACH)
    base = tmp_path / "base.json"
    assert (
        netcheck(
            "run",
            str(scen),
            "--runtime",
            "netns",
            "--save-baseline",
            str(base),
            "--no-reports",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    again = netcheck(
        "run",
        str(scen),
        "--runtime",
        "netns",
        "--baseline",
        str(base),
        "--no-reports",
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "no regression" in again.stdout
    # Run ids and veth MACs differ between the runs; none of that is a change in the lab.
    # (The root namespace is the machine's: other programs may change it meanwhile.)
    lab_lines = [
        line
        for line in again.stdout.splitlines()
        if line.strip().startswith(
            ("network state: router:", "network state: pc:", "network state: db:")
        )
    ]
    assert lab_lines == []


def test_missing_baseline_fails_before_building(tmp_path: Path) -> None:
    proc = netcheck(
        "run",
        str(scenario(tmp_path, REACH)),
        "--runtime",
        "netns",
        "--baseline",
        "nope.json",
        "--no-reports",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "nope.json: cannot read" in proc.stderr
    assert "building" not in proc.stdout


def test_snapshot_command(tmp_path: Path) -> None:
    proc = netcheck("snapshot", "-o", "snap.json", "--no-docker", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    snap = json.loads((tmp_path / "snap.json").read_text())
    assert "net.ipv4.ip_forward" in snap["namespaces"]["host"]["sysctls"]
    same = netcheck("diff", "snap.json", "snap.json", cwd=tmp_path)
    assert same.returncode == 0 and "no difference" in same.stdout
