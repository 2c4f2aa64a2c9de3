"""Every file in invalid/ must fail with the message (and line) its first line promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netcheck.errors import ScenarioErrors
from netcheck.scenario import load_plan

CORPUS = Path(__file__).parent / "invalid"
FILES = sorted(CORPUS.glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (?P<text>.+)$")


def _expectation(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = _EXPECT.match(first)
    assert match, f"{path.name}: first line must be '# expect: <message substring>'"
    return match["text"].strip()


def test_corpus_is_large_enough() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_invalid_scenario_is_rejected_with_its_message(path: Path) -> None:
    expected = _expectation(path)
    with pytest.raises(ScenarioErrors) as caught:
        load_plan(path)
    errors = caught.value.errors
    assert errors, "ScenarioErrors must carry at least one error"
    matching = [e for e in errors if expected in str(e)]
    assert matching, f"no error contains {expected!r}; got:\n{caught.value}"
    line = re.match(rf"^{re.escape(path.name)}:(\d+):", expected)
    if line is not None:
        assert matching[0].location.line == int(line[1])
    assert all(e.location.path == str(path) for e in errors)
    # pydantic's own loc markers are never shown (union labels, tags, key markers).
    assert "function-" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["ip_range_clean_field_path", "ip_range_per_host_clean_field_path"]
)
def test_a_smart_union_reports_only_the_branch_shaped_like_the_input(name: str) -> None:
    # ip_range is a CIDR or a per-host mapping: a bad CIDR is not also "expected a mapping".
    with pytest.raises(ScenarioErrors) as caught:
        load_plan(CORPUS / f"{name}.yaml")
    assert len(caught.value.errors) == 1, str(caught.value)
