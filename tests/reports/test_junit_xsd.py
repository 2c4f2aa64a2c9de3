"""netcheck's JUnit validates against the common JUnit schema that CI systems read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import xmlschema

from netcheck.model.results import Outcome, RunRecord
from netcheck.reports.junit import JunitReporter

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).parent / "data" / "junit-common.xsd"))


def test_every_outcome_validates(record: RunRecord, tmp_path: Path) -> None:
    outcomes = Counter(v.outcome for v in record.verdicts)
    assert all(outcomes[o] for o in Outcome), "the sample must hold every outcome"
    path = tmp_path / "junit.xml"
    JunitReporter().write(record, path)
    SCHEMA.validate(str(path))


def test_the_schema_rejects_what_ci_would_not_read(tmp_path: Path) -> None:
    """The check can fail: a case without classname and with two results is refused."""
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<testsuites><testsuite name="s" tests="1" failures="1" errors="0">'
        '<testcase name="x" time="0"><failure/><error/></testcase>'
        "</testsuite></testsuites>"
    )
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(str(bad))
