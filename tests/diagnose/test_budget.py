"""Which silent probes a run diagnoses: every unexpected one and every one with a `reason:`,
and of a big mesh's expected silences a bounded share spread over the targets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from netcheck import diagnose
from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from tests.diagnose.stubs import pair

ICMP = ProbeSpec(kind=ProbeKind.ICMP)


def silences(sources: int, targets: int) -> list:  # type: ignore[type-arg]
    return [pair(f"s{i}", f"d{j}", f"10.0.1.{j + 1}", ICMP, Observation.SILENT)
            for i in range(sources) for j in range(targets)]


def test_under_the_budget_every_silence_is_diagnosed() -> None:
    got = silences(3, 2)
    chosen, skipped = diagnose._budget(got)
    assert chosen == got and skipped == []


def test_over_the_budget_each_target_gets_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnose, "MAX_EXPECTED_SILENCES", 10)
    got = silences(20, 5)
    chosen, skipped = diagnose._budget(got)
    assert len(chosen) == 10 and len(skipped) == 90
    per_target = {t: sum(1 for e, _ in chosen if e.target.node == t) for t in
                  ("d0", "d1", "d2", "d3", "d4")}
    assert per_target == dict.fromkeys(per_target, 2)
    assert {e.id for e, _ in chosen}.isdisjoint(e.id for e, _ in skipped)


def test_unexpected_silences_and_reasons_are_never_left_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnose, "MAX_EXPECTED_SILENCES", 1)
    got = silences(4, 1)
    failing = (replace(got[0][0], reachable=True), got[0][1])
    reasoned = (replace(got[1][0], reason="rp-filter"), got[1][1])
    chosen, skipped = diagnose._budget([failing, reasoned, *got[2:]])
    assert failing in chosen and reasoned in chosen
    assert len(chosen) == 3 and len(skipped) == 1


def test_the_ones_left_out_say_why_and_claim_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from netcheck.model.plan import Lab, Plan
    from netcheck.model.results import Topology
    from tests.diagnose.stubs import StubLive

    monkeypatch.setattr(diagnose, "MAX_EXPECTED_SILENCES", 2)
    monkeypatch.setattr(diagnose, "registered", dict)  # no rules: the budget alone
    monkeypatch.setattr(diagnose, "live_factory", _factory(StubLive))
    plan = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=(),
                endpoints=(), expectations=())
    got = diagnose.diagnose_all(plan, Topology(run_id="abcdef", runtime="netns", nodes={}),
                                silences(3, 2))
    left = [d for d in got.values() if d.path is not None and not d.path.hops]
    assert len(got) == 6 and len(left) == 4
    assert all(not d.findings for d in left)
    assert all("diagnosed 2 of its 6 expected silences" in (d.path.note or "") for d in left
               if d.path is not None)


def _factory(cls: type) -> object:
    from contextvars import ContextVar

    return ContextVar("live_factory", default=lambda *a, **k: cls())
