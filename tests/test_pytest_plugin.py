"""The pytest plugin, driven through pytest's own `pytester`: collection, -k, outcomes,
JUnit agreement with netcheck's reporter, and the netcheck_lab fixture."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from junitparser import JUnitXml

pytest_plugins = ["pytester"]

LAB = """\
name: two-lans
variables:
  FORWARD: "true"
lab:
  lans:
    office: {subnet: 10.62.1.0/24, gateway: 10.62.1.1}
    servers: {subnet: 10.62.2.0/24, gateway: 10.62.2.1}
  router:
    forward: ${FORWARD}
  machines:
    pc: {lan: office, ip: 10.62.1.10}
    db: {lan: servers, ip: 10.62.2.20, listen: [tcp/5432]}
expectations:
  - from: pc
    to: db
    probe: [icmp, tcp/5432]
  - from: pc
    to: router
    probe: icmp
"""
IDS = ["icmp:pc->db", "tcp/5432:pc->db", "icmp:pc->router"]

# A stand-in engine for the unprivileged tests: one verdict of each outcome, and a record
# of what it was asked to probe.
FAKE_ENGINE = """
import json, os
import netcheck.engine.run as engine
from netcheck.model.results import Outcome, RunRecord, Verdict, Finding

OUTCOMES = {"icmp:pc->db": Outcome.FAIL, "tcp/5432:pc->db": Outcome.ERROR,
            "icmp:pc->router": Outcome.PASS, "arp:pc->router": Outcome.SKIP}

def fake_run_plan(plan, options, listener=None):
    with open("calls.jsonl", "a") as fh:
        fh.write(json.dumps({"scenario": plan.name, "only": list(options.only)}) + "\\n")
    chosen = [e for e in plan.expectations if not options.only or e.id in
              {o.replace("[*]", "*").replace("[?]", "?").replace("[[]", "[") for o in options.only}]
    verdicts = tuple(
        Verdict(expectation_id=e.id, outcome=OUTCOMES.get(e.id, Outcome.PASS),
                message=f"{OUTCOMES.get(e.id, Outcome.PASS).value} for {e.id}",
                expected="reachable", observed="kernel lacks ipvlan" if
                OUTCOMES.get(e.id) is Outcome.SKIP else "silent",
                findings=(Finding(id="no-forwarding", summary="router does not forward",
                                  evidence=("ip_forward=0",), fix="sysctl -w ..."),)
                if OUTCOMES.get(e.id) is Outcome.FAIL else ())
        for e in chosen)
    return RunRecord(run_id="fake01", scenario=plan.name, source=plan.source, runtime="netns",
                     started_at="2026-01-01T00:00:00+00:00", duration_s=0.1, phase_s={},
                     facts={"kernel": "test"}, verdicts=verdicts)

_real_run_plan = engine.run_plan


def pytest_configure(config):
    engine.run_plan = fake_run_plan


def pytest_unconfigure(config):  # pytester runs in this process: leave the engine as found
    engine.run_plan = _real_run_plan
"""


def write_lab(pytester: pytest.Pytester, extra: str = "") -> Path:
    scen = pytester.path / "scenarios"
    scen.mkdir(exist_ok=True)
    path = scen / "two-lans.yaml"
    path.write_text(LAB + extra)
    return path


def calls(pytester: pytest.Pytester) -> list[dict[str, object]]:
    path = pytester.path / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- collection (no root) ---------------------------------------------------------------------


def test_collects_each_expectation_with_its_stable_id(pytester: pytest.Pytester) -> None:
    write_lab(pytester)
    (pytester.path / "scenarios" / "ci.yaml").write_text("jobs: {build: {}}\n")
    (pytester.path / "data.yaml").write_text("expectations: []\n")  # not in scenarios/
    result = pytester.runpytest("--collect-only", "-q", "scenarios")
    lines = [line for line in result.outlines if "::" in line]
    assert lines == [f"scenarios/two-lans.yaml::{i}" for i in IDS]


def test_explicit_file_and_configured_dir(pytester: pytest.Pytester) -> None:
    other = pytester.path / "net"
    other.mkdir()
    (other / "x.yml").write_text(LAB)
    result = pytester.runpytest("--collect-only", "-q", "net/x.yml")
    assert sum("net/x.yml::" in line for line in result.outlines) == 3
    result = pytester.runpytest("--collect-only", "-q", "net")
    assert not any("net/x.yml::" in line for line in result.outlines)
    pytester.makeini("[pytest]\nnetcheck_scenarios = net\n")
    result = pytester.runpytest("--collect-only", "-q", "net")
    assert sum("net/x.yml::" in line for line in result.outlines) == 3


def test_k_selects_by_id_words(pytester: pytest.Pytester) -> None:
    write_lab(pytester)
    result = pytester.runpytest("--collect-only", "-q", "scenarios", "-k", "tcp or router")
    lines = [line for line in result.outlines if "::" in line]
    assert lines == [
        "scenarios/two-lans.yaml::tcp/5432:pc->db",
        "scenarios/two-lans.yaml::icmp:pc->router",
    ]


def test_invalid_scenario_is_a_collection_error_with_its_place(pytester: pytest.Pytester) -> None:
    path = write_lab(pytester)
    path.write_text(LAB.replace("probe: icmp\n", "probe: icmpp\n"))
    result = pytester.runpytest("-q", "scenarios")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "icmpp" in t)
    result.stdout.fnmatch_lines([f"*two-lans.yaml:{line}:*icmpp*"])


# --- outcomes, with a stand-in engine (no root) -----------------------------------------------


def test_verdicts_become_pass_fail_error_skip(pytester: pytest.Pytester) -> None:
    write_lab(pytester, "  - from: pc\n    to: router\n    probe: arp\n")
    pytester.makeconftest(FAKE_ENGINE)
    result = pytester.runpytest("-rA", "scenarios", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*no-forwarding: router does not forward*",
            "*fix: sysctl -w ...*",
            "SKIPPED*kernel lacks ipvlan*",
        ]
    )
    assert len(calls(pytester)) == 1  # one engine run for the whole file


def test_k_probes_only_the_selected(pytester: pytest.Pytester) -> None:
    write_lab(pytester)
    pytester.makeconftest(FAKE_ENGINE)
    result = pytester.runpytest("scenarios", "-k", "router")
    result.assert_outcomes(passed=1)
    assert calls(pytester) == [{"scenario": "two-lans", "only": ["icmp:pc->router"]}]


def _junit_cases(path: Path) -> dict[str, str]:
    out = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            kinds = [type(r).__name__.lower() for r in case.result]
            out[f"{case.classname}::{case.name}"] = kinds[0] if kinds else "pass"
    return out


def test_fake_engine_is_gone_after_the_inner_run(pytester: pytest.Pytester) -> None:
    import netcheck.engine.run as engine

    real = engine.run_plan
    write_lab(pytester)
    pytester.makeconftest(FAKE_ENGINE)
    pytester.runpytest("scenarios").assert_outcomes(failed=1, errors=1, passed=1)
    assert engine.run_plan is real


def test_junitxml_agrees_with_netcheck_junit(pytester: pytest.Pytester) -> None:
    write_lab(pytester, "  - from: pc\n    to: router\n    probe: arp\n")
    pytester.makeconftest(FAKE_ENGINE)
    pytester.runpytest("scenarios", "--junitxml=py.xml", "--netcheck-reports=nc")
    ours = _junit_cases(pytester.path / "nc" / "two-lans.junit.xml")
    theirs = _junit_cases(pytester.path / "py.xml")
    assert ours == theirs  # classname and name alike
    assert all(k.startswith("netcheck.two-lans::") for k in ours)
    assert {k.split("::")[1]: v for k, v in ours.items()} == {
        "icmp:pc->db": "failure",
        "tcp/5432:pc->db": "error",
        "icmp:pc->router": "pass",
        "arp:pc->router": "skipped",
    }
    assert (pytester.path / "nc" / "two-lans.html").exists()


# --- real labs ---------------------------------------------------------------------------------


@pytest.mark.privileged
def test_real_run_and_junit_agreement(pytester: pytest.Pytester) -> None:
    write_lab(pytester)
    result = pytester.runpytest_subprocess(
        "scenarios",
        "--netcheck-runtime=netns",
        "--netcheck-set",
        "FORWARD=false",
        "--junitxml=py.xml",
        "--netcheck-reports=nc",
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*no-forwarding*", "*sysctl -w net.ipv4.ip_forward=1*"])
    ours = _junit_cases(pytester.path / "nc" / "two-lans.junit.xml")
    assert ours == _junit_cases(pytester.path / "py.xml")
    assert {k.split("::")[1]: v for k, v in ours.items()} == {
        "icmp:pc->db": "failure",
        "tcp/5432:pc->db": "failure",
        "icmp:pc->router": "pass",
    }


@pytest.mark.privileged
def test_real_run_with_k_probes_only_the_selection(pytester: pytest.Pytester) -> None:
    write_lab(pytester)
    result = pytester.runpytest_subprocess(
        "scenarios", "--netcheck-runtime=netns", "-k", "tcp", "--netcheck-reports=nc"
    )
    result.assert_outcomes(passed=1, deselected=2)
    record = json.loads((pytester.path / "nc" / "two-lans.json").read_text())
    assert [v["expectation_id"] for v in record["verdicts"]] == ["tcp/5432:pc->db"]


@pytest.mark.privileged
def test_netcheck_lab_fixture_keeps_the_lab_up_for_the_test(pytester: pytest.Pytester) -> None:
    path = write_lab(pytester)
    pytester.makepyfile(
        test_lab=textwrap.dedent(f"""
        import os

        def test_lab(netcheck_lab):
            lab = netcheck_lab({str(path)!r}, variables={{"FORWARD": "false"}},
                               runtime="netns")
            assert set(lab.endpoints) >= {{"pc", "db", "router"}}
            for node in lab.endpoints.values():
                assert os.path.exists(node.netns), node.netns  # still up during the test
            assert "no-forwarding" in {{f.id for f in lab.findings}}
            assert lab.verdict("icmp:pc->router").outcome.value == "pass"
            assert lab.probe("pc", "router", "icmp").reached
            assert not lab.probe("pc", "db", "icmp").reached
            with open("netns.txt", "w") as fh:
                fh.write("\\n".join(n.netns for n in lab.endpoints.values()))

        def test_probe_tcp_needs_listeners(netcheck_lab):
            lab = netcheck_lab({str(path)!r}, runtime="netns")
            assert lab.probe("pc", "db", "tcp/5432").reached
            assert lab.probe("pc", "db", "tcp/5433").observation.value == "refused"
            # A literal address: what listens there (db's responder) answers.
            literal = lab.probe("pc", "10.62.2.20", "tcp/5432")
            assert literal.reached and literal.target == "10.62.2.20"
    """)
    )
    result = pytester.runpytest_subprocess("test_lab.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    netns = (pytester.path / "netns.txt").read_text().split()
    assert netns and not any(Path(p).exists() for p in netns)  # torn down after the test
