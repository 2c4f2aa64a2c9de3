from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from netcheck.model.results import Environment, Outcome, RunRecord, Verdict
from netcheck.reports import base
from netcheck.reports.junit import JunitReporter, dumps, xml_safe


def _write(record: RunRecord, tmp_path: Path) -> Path:
    path = tmp_path / "out" / "junit.xml"
    JunitReporter().write(record, path)
    return path


def test_counts_names_and_times(record: RunRecord, tmp_path: Path) -> None:
    xml = JUnitXml.fromfile(str(_write(record, tmp_path)))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "quickstart"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 2, 1, 1)
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (6, 2, 1, 1)
    assert suite.time == 3.75
    cases = {c.name: c for c in suite}
    assert list(cases) == [v.expectation_id for v in record.verdicts]
    assert {c.classname for c in cases.values()} == {"netcheck.quickstart"}
    assert cases["icmp:c1->host1"].time == 1.002
    assert cases["arp:c1->c2"].is_passed
    assert cases["icmp:c1->host1"].is_passed


def test_failure_error_skip(record: RunRecord, tmp_path: Path) -> None:
    suite = next(iter(JUnitXml.fromfile(str(_write(record, tmp_path)))))
    cases = {c.name: c for c in suite}

    (failure,) = cases["icmp/df/1400:c1->nas"].result
    assert isinstance(failure, Failure)
    assert failure.message == "expected reachable, observed silent: no echo reply in 1.0 s"
    assert failure.type == "silent"
    # GitLab shows only the failure text: the finding must be there too.
    assert "fix: sysctl -w net.ipv4.conf.all.rp_filter=2 on nas" in failure.text

    (error,) = cases["tcp/80:c2->c1@v6net"].result
    assert isinstance(error, Error)
    assert error.message == "could not test: could not send: Network is unreachable"

    (skipped,) = cases["icmp:c3->c1"].result
    assert isinstance(skipped, Skipped)
    assert skipped.message == "kernel lacks ipvlan"


def test_system_out_holds_evidence(record: RunRecord, tmp_path: Path) -> None:
    suite = next(iter(JUnitXml.fromfile(str(_write(record, tmp_path)))))
    cases = {c.name: c for c in suite}
    out = cases["icmp/df/1400:c1->nas"].system_out
    assert "detail: no echo reply in 1.0 s" in out
    assert "echo-request 0 / Raw" in out  # the sent packet
    assert "received:\n  (nothing)" in out
    assert "rp-filter: nas drops replies" in out
    assert "evidence: kfree_skb reason IP_RPFILTER x3" in out
    assert "fix: sysctl -w net.ipv4.conf.all.rp_filter=2 on nas" in out
    arp = cases["arp:c1->c2"].system_out
    assert "answered by: 02:42:ac:10:56:81" in arp
    assert "ARP is at 02:42:ac:10:56:81" in arp


def test_properties(record: RunRecord, tmp_path: Path) -> None:
    suite = next(iter(JUnitXml.fromfile(str(_write(record, tmp_path)))))
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["run_id"] == "ab12cd"
    assert props["runtime"] == "netns"
    assert props["kernel"] == "6.1.0-test"
    assert props["netcheck_version"] == "0.1.0"
    assert props["phase.build_s"] == "1.500"


def test_xml_specials_survive_escaped(record: RunRecord, tmp_path: Path) -> None:
    path = _write(record, tmp_path)
    raw = path.read_text(encoding="utf-8")
    assert "<script>" not in raw
    assert "&lt;script&gt;&amp;[red]x[/red]" in raw
    suite = next(iter(JUnitXml.fromfile(str(path))))
    cases = {c.name: c for c in suite}
    case = cases["icmp:<script>&[red]x[/red]->c2"]
    (failure,) = case.result
    assert failure.message == 'expected reachable, observed silent: "a<b" & c :smile:'
    assert "fix: add a route & retry" in case.system_out


def test_structure_for_jenkins_and_gitlab(record: RunRecord, tmp_path: Path) -> None:
    root = ET.parse(_write(record, tmp_path)).getroot()
    assert root.tag == "testsuites"
    for attr in ("tests", "failures", "errors", "time"):
        assert attr in root.attrib
    (suite,) = root.findall("testsuite")
    for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname"):
        assert attr in suite.attrib, attr
    assert suite.get("timestamp") == "2026-11-22T10:47:14"
    assert suite.get("hostname") == "ci-7"
    children = [c.tag for c in suite]
    assert children[0] == "properties"
    assert set(children[1:]) == {"testcase"}
    for case in suite.findall("testcase"):
        for attr in ("name", "classname", "time"):
            assert attr in case.attrib
        float(case.get("time", ""))
        tags = [c.tag for c in case]
        # Result element (if any) first, then system-out: the XSD's order.
        assert tags[-1] == "system-out"
        assert len(tags) <= 2
        assert all(t in ("failure", "error", "skipped") for t in tags[:-1])


def test_illegal_xml_characters_are_replaced(
    record_factory: Callable[..., RunRecord], tmp_path: Path
) -> None:
    verdict = Verdict(
        expectation_id="icmp:c1->c2",
        outcome=Outcome.FAIL,
        message="saw \x07 bell and \x00 nul",
        expected="reachable",
        observed="silent",
    )
    path = _write(record_factory(verdicts=(verdict,), topology=None), tmp_path)
    (case,) = next(iter(JUnitXml.fromfile(str(path))))
    (failure,) = case.result
    assert failure.message == "saw \\x07 bell and \\x00 nul"
    assert xml_safe("ok\ttab\n") == "ok\ttab\n"


def test_empty_run_is_valid(record_factory: Callable[..., RunRecord]) -> None:
    xml = JUnitXml.fromstring(dumps(record_factory(verdicts=())).encode())
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (0, 0, 0, 0)


def test_registered_by_name() -> None:
    import netcheck.reports  # noqa: F401

    assert base.registered()["junit"]().name == "junit"


def test_host_kernel_and_version_come_from_the_typed_environment(
    record: RunRecord, tmp_path: Path
) -> None:
    # Facts are display text: whatever they say, the suite's host is the environment's.
    env = Environment(kernel="6.9.1-lab", hostname="lab-7", netcheck_version="9.9", python="3")
    odd = dataclasses.replace(record, environment=env, facts={"host": "x", "hostname": "y"})
    suite = next(iter(JUnitXml.fromfile(str(_write(odd, tmp_path)))))
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert suite.hostname == "lab-7"
    assert (props["kernel"], props["netcheck_version"]) == ("6.9.1-lab", "9.9")
    assert props["fact.hostname"] == "y"  # still listed, as the run wrote it


# --- the document as junitparser built it, before the report was written as text ----------


def _reference(record: RunRecord) -> str:
    """The JUnit document built with junitparser and serialised by ElementTree, as the
    reporter did until it wrote the XML itself: the text must stay the same, byte for byte."""
    import io

    from junitparser import TestCase, TestSuite

    from netcheck.reports import pathstrip
    from netcheck.reports.junit import _hostname, _properties, _timestamp
    from netcheck.reports.text import verdict_text

    scenario = record.scenario
    suite = TestSuite(xml_safe(scenario))
    suite.hostname = xml_safe(_hostname(record))
    suite.timestamp = xml_safe(_timestamp(record.started_at))
    for key, value in _properties(record):
        suite.add_property(xml_safe(key), xml_safe(value))
    cases = []
    for v in record.verdicts:
        case = TestCase(name=xml_safe(v.expectation_id), classname=xml_safe(f"netcheck.{scenario}"),
                        time=round(v.duration_s, 3))
        evidence = xml_safe(verdict_text(v) + pathstrip.text_block(v))
        result: Failure | Error | Skipped
        if v.outcome is Outcome.FAIL:
            result = Failure(message=xml_safe(v.message),
                             type_=v.result.observation.value if v.result else "fail")
            result.text = evidence
            case.result = [result]
        elif v.outcome is Outcome.ERROR:
            result = Error(message=xml_safe(v.message), type_="error")
            result.text = evidence
            case.result = [result]
        elif v.outcome is Outcome.SKIP:
            case.result = [Skipped(message=xml_safe(v.observed or v.message))]
        case.system_out = evidence
        cases.append(case)
    suite.add_testcases(cases)
    xml = JUnitXml(xml_safe(scenario))
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    suite.time = round(record.duration_s, 3)
    xml.time = round(record.duration_s, 3)
    ET.indent(xml._elem)
    buf = io.BytesIO()
    xml.write(buf)
    return buf.getvalue().decode("utf-8")


def test_same_text_as_junitparser_wrote(
    record: RunRecord, record_factory: Callable[..., RunRecord]
) -> None:
    from netcheck.model.results import Hop, HopState, PacketPath

    odd = Verdict(
        expectation_id='icmp:c1->c2\t"\r\n', outcome=Outcome.FAIL, expected="reachable",
        message='saw \x07 bell, \x00 nul, "quotes", <tags> & \r\n\t', observed="silent",
        duration_s=2, path=PacketPath(hops=(
            Hop(node="c1", state=HopState.SEEN),
            Hop(node="r<1>", state=HopState.DROPPED, iif="eth0", reason="IP_RPFILTER",
                location="ip_rcv_finish_core+0x1", evidence=("a & b", "c\x01")),
        ), note="re-sent alone"),
    )
    quiet = (
        Verdict(expectation_id="s", outcome=Outcome.SKIP, message="", expected="", observed=""),
        Verdict(expectation_id="", outcome=Outcome.ERROR, message="", expected="", observed=""),
    )
    records = [
        record,
        record_factory(verdicts=()),
        record_factory(verdicts=(odd, *quiet), scenario='a"<b>&\n', duration_s=3,
                       environment=None),
    ]
    for r in records:
        assert dumps(r) == _reference(r)
