"""The confusion matrix: every rule against every recorded fault, without root.

Each fixture under data/ is one real run of a scenario under scenarios/faults/, with the
live state the rules read recorded (netcheck.diagnose.recorded; re-record one with
`python -m netcheck.diagnose.recorded scenarios/faults/X.yaml tests/diagnose/data/X.json`
as root, with the lab lock). Replayed here, each rule must fire where its fault's scenario
names it, as the strongest finding, and nowhere else: on no other fault's probe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from netcheck.diagnose import diagnose, live_factory, registered
from netcheck.diagnose.live import LiveState
from netcheck.diagnose.recorded import Recording
from netcheck.model.plan import Expectation
from netcheck.model.results import Finding
from netcheck.scenario import load_plan
from tests.helpers import ROOT

DATA = Path(__file__).parent / "data"
FIXTURES = sorted(p.stem for p in DATA.glob("*.json"))


@cache
def replayed(name: str) -> tuple[tuple[Expectation, tuple[Finding, ...]], ...]:
    rec = Recording.load(DATA / f"{name}.json")
    plan = load_plan(str(ROOT / rec.scenario), rec.variables)
    pairs = rec.pairs(plan)

    def factory(*_: object, **__: object) -> LiveState:
        return rec.live()

    token = live_factory.set(factory)
    try:
        found = diagnose(plan, rec.record.topology, pairs, window=rec.window)  # type: ignore[arg-type]
    finally:
        live_factory.reset(token)
    return tuple((exp, found.get(exp.id, ())) for exp, _ in pairs)


@pytest.fixture
def no_rule_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A rule that asked for state the recording lacks fails loudly, never silently."""
    with caplog.at_level(logging.ERROR, logger="netcheck.diagnose"):
        yield
    broken = [r.getMessage() for r in caplog.records if "diagnosis rule" in r.getMessage()]
    assert not broken, broken


def test_there_are_recordings() -> None:
    assert len(FIXTURES) >= 10, FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_each_rule_fires_on_its_own_fault_first(name: str, no_rule_errors: None) -> None:
    rules = set(registered())
    named = [(e, f) for e, f in replayed(name) if e.reason in rules]
    assert named, f"{name}: no expectation names a rule"
    for exp, findings in named:
        ids = [f.id for f in findings]
        assert ids and ids[0] == exp.reason, f"{exp.id}: want {exp.reason} first, got {ids}"


def test_only_the_diagonal_fires() -> None:
    """rule x fault: a rule fires on a fault's probe only if that probe names it (or, for
    an expectation without a reason, a rule named elsewhere in the same fault)."""
    off: list[str] = []
    for name in FIXTURES:
        results = replayed(name)
        named_here = {e.reason for e, _ in results if e.reason}
        for exp, findings in results:
            for f in findings:
                if f.id == exp.reason or (exp.reason is None and f.id in named_here):
                    continue
                off.append(f"{name}: {exp.id} ({exp.reason or 'no reason'}) got {f.id}: "
                           f"{f.summary}")
    assert not off, "\n".join(off)
