"""The JUnit XML report, for Jenkins and GitLab: one testsuite per run, one case per expectation.

Jenkins shows a failure's `message` as "Error Message", its text as "Stacktrace" and
`system-out` as "Standard Output"; GitLab shows only the failure's text. So the evidence goes
in both the failure/error text and `system-out`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

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


# The XML is written as text, in the order and spelling junitparser and ElementTree wrote it
# (attributes in this order, two-space indent, ` />` for an empty element): 62,250 cases as
# elements took seconds to build, count, indent and serialise, for a document this regular.
# tests/reports/test_reports_junit.py checks it against a document junitparser builds.


# What ElementTree's serialiser escapes in an attribute beyond &, < and >.
_ATTR_ENTITIES = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}


def _attr(text: str) -> str:
    """An attribute value, escaped as ElementTree's serialiser does (after xml_safe)."""
    return escape(xml_safe(text), _ATTR_ENTITIES)


def _text(text: str) -> str:
    """Element text, escaped as ElementTree's serialiser does (after xml_safe)."""
    return escape(xml_safe(text))


def _case(verdict: Verdict, classname: str) -> str:
    """One <testcase>, indented for its place in the suite, with its trailing newline."""
    head = (f'    <testcase name="{_attr(verdict.expectation_id)}" classname="{classname}" '
            f'time="{float(round(verdict.duration_s, 3))}">\n')
    evidence = _text(verdict_text(verdict) + pathstrip.text_block(verdict))
    outcome = verdict.outcome
    if outcome is Outcome.FAIL or outcome is Outcome.ERROR:
        if outcome is Outcome.FAIL:
            tag, kind = "failure", (verdict.result.observation.value if verdict.result
                                    else "fail")
        else:
            tag, kind = "error", "error"
        message = f' message="{_attr(verdict.message)}"' if verdict.message else ""
        result = f'      <{tag}{message} type="{_attr(kind)}">{evidence}</{tag}>\n'
    elif outcome is Outcome.SKIP:
        why = verdict.observed or verdict.message
        result = f'      <skipped message="{_attr(why)}" />\n' if why else "      <skipped />\n"
    else:
        result = ""
    return f"{head}{result}      <system-out>{evidence}</system-out>\n    </testcase>\n"


def dumps(record: RunRecord) -> str:
    """The document: one <testsuites> holding one <testsuite> of every verdict."""
    scenario = _attr(record.scenario)
    counts = record.counts()
    tests, errors = len(record.verdicts), counts[Outcome.ERROR]
    failures, skipped = counts[Outcome.FAIL], counts[Outcome.SKIP]
    # The cases' times summed are not the run's: its wall time (build, teardown) is.
    time = str(round(record.duration_s, 3))
    parts = [
        "<?xml version='1.0' encoding='utf-8'?>\n",
        f'<testsuites name="{scenario}" tests="{tests}" failures="{failures}" '
        f'errors="{errors}" skipped="{skipped}" time="{time}">\n',
        f'  <testsuite name="{scenario}" hostname="{_attr(_hostname(record))}" '
        f'timestamp="{_attr(_timestamp(record.started_at))}" tests="{tests}" '
        f'errors="{errors}" failures="{failures}" skipped="{skipped}" time="{time}">\n',
        # The XSD wants <properties> before the test cases.
        "    <properties>\n",
        *(f'      <property name="{_attr(key)}" value="{_attr(value)}" />\n'
          for key, value in _properties(record)),
        "    </properties>\n",
    ]
    classname = _attr(f"netcheck.{record.scenario}")
    parts.extend(_case(v, classname) for v in record.verdicts)
    parts.append("  </testsuite>\n</testsuites>")
    return "".join(parts)


class JunitReporter:
    name: str = "junit"

    def write(
        self, record: RunRecord, path: Path, *, plan: Plan | None = None,
        diff: RunDiff | None = None,
    ) -> None:
        write_text_atomic(Path(path), dumps(record))
