"""The JUnit XML report, for Jenkins and GitLab: one testsuite per run, one case per expectation.

Jenkins shows a failure's `message` as "Error Message", its text as "Stacktrace" and
`system-out` as "Standard Output"; GitLab shows only the failure's text. So the evidence goes
in both the failure/error text and `system-out`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

import netcheck
from netcheck.baseline.diff import RunDiff
from netcheck.model.plan import Plan
from netcheck.model.results import Outcome, RunRecord, Verdict
from netcheck.reports import pathstrip
from netcheck.reports.text import verdict_text
from netcheck.textfile import write_text_atomic

# Characters XML 1.0 cannot carry at all, even escaped; a probe detail may hold them.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _timestamp(started_at: str) -> str:
    # The JUnit XSD wants a local time without zone; the record's time is UTC already.
    try:
        when = datetime.fromisoformat(started_at)
    except ValueError:
        return started_at
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _properties(record: RunRecord) -> Iterable[tuple[str, str]]:
    env = record.environment
    yield "run_id", record.run_id
    yield "runtime", record.runtime
    yield "kernel", env.kernel if env is not None else "unknown"
    yield "netcheck_version", env.netcheck_version if env is not None else netcheck.__version__
    yield "scenario_file", record.source
    yield "started_at", record.started_at
    yield "timeout_s", f"{record.timeout_s:g}"
    for phase, seconds in record.phase_s.items():
        yield f"phase.{phase}_s", f"{seconds:.3f}"
    # The rest of the display facts; these two are said above already.
    for key, value in sorted(record.facts.items()):
        if key not in ("kernel", "netcheck_version"):
            yield f"fact.{key}", value


def _hostname(record: RunRecord) -> str:
    return record.environment.hostname if record.environment is not None else "localhost"


def verdict_case(verdict: Verdict, scenario: str) -> TestCase:
    case = TestCase(
        name=xml_safe(verdict.expectation_id),
        classname=xml_safe(f"netcheck.{scenario}"),
        time=round(verdict.duration_s, 3),
    )
    evidence = xml_safe(verdict_text(verdict) + pathstrip.text_block(verdict))
    message = xml_safe(verdict.message)
    if verdict.outcome is Outcome.FAIL:
        kind = verdict.result.observation.value if verdict.result else "fail"
        failure = Failure(message=message, type_=kind)
        failure.text = evidence
        case.result = [failure]
    elif verdict.outcome is Outcome.ERROR:
        error = Error(message=message, type_="error")
        error.text = evidence
        case.result = [error]
    elif verdict.outcome is Outcome.SKIP:
        case.result = [Skipped(message=xml_safe(verdict.observed or verdict.message))]
    case.system_out = evidence
    return case


def build_xml(record: RunRecord) -> JUnitXml:
    scenario = record.scenario
    suite = TestSuite(xml_safe(scenario))
    suite.hostname = xml_safe(_hostname(record))
    suite.timestamp = xml_safe(_timestamp(record.started_at))
    # The XSD wants <properties> before the test cases.
    for key, value in _properties(record):
        suite.add_property(xml_safe(key), xml_safe(value))
    suite.add_testcases([verdict_case(v, scenario) for v in record.verdicts])
    xml = JUnitXml(xml_safe(scenario))
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    # update_statistics sums case times; the run's wall time (build, teardown) is the truth.
    suite.time = round(record.duration_s, 3)
    xml.time = round(record.duration_s, 3)
    return xml


def dumps(record: RunRecord) -> str:
    buf = io.BytesIO()
    xml = build_xml(record)
    # Indented in place: junitparser's pretty=True re-parses the document with minidom,
    # 7x the write and most of the memory for a 62,250-case mesh.
    if isinstance(xml._elem, ElementTree.Element):
        ElementTree.indent(xml._elem)
        xml.write(buf)
    else:  # junitparser on lxml
        xml.write(buf, pretty=True)
    return buf.getvalue().decode("utf-8")


class JunitReporter:
    name: str = "junit"

    def write(
        self, record: RunRecord, path: Path, *, plan: Plan | None = None,
        diff: RunDiff | None = None,
    ) -> None:
        write_text_atomic(Path(path), dumps(record))
