"""An ARP conflict named as the reason (`reason: duplicate-ip`) is an expected outcome."""

from __future__ import annotations

import ipaddress

from netcheck.engine.judge import judge
from netcheck.model.plan import Expectation, ProbeKind, ProbeSpec, Target
from netcheck.model.results import Finding, Observation, Outcome, ProbeResult

ARP = ProbeSpec(kind=ProbeKind.ARP)


def _case(reason: str | None) -> tuple[Expectation, ProbeResult]:
    exp = Expectation(id="arp:nas->c1", source="nas", target=Target(node="c1"), probe=ARP,
                      reachable=False, reason=reason)
    res = ProbeResult(probe_id=exp.id, source="nas", target="c1",
                      target_address=ipaddress.ip_address("10.0.0.5"), probe=ARP,
                      observation=Observation.CONFLICT, detail="claimed by 2 MACs",
                      answered_by=("02:42:0a:00:00:05", "06:00:00:00:00:01"))
    return exp, res


def test_conflict_named_as_reason_passes() -> None:
    exp, res = _case("duplicate-ip")
    f = Finding(id="duplicate-ip", summary="two owners", evidence=("2 MACs",))
    assert judge(exp, res, [f]).outcome is Outcome.PASS


def test_conflict_without_reason_or_with_another_still_fails() -> None:
    exp, res = _case(None)
    assert judge(exp, res, []).outcome is Outcome.FAIL
    exp, res = _case("rp-filter")
    assert judge(exp, res, []).outcome is Outcome.FAIL


def test_known_reasons_come_from_the_rules_and_the_observations() -> None:
    from netcheck.diagnose import registered
    from netcheck.engine.judge import _OBSERVATION_REASONS, known_reasons

    known = set(known_reasons())
    assert set(registered()) <= known  # every registered rule's own id
    for names in _OBSERVATION_REASONS.values():
        assert set(names) <= known
    assert {"macvlan-host-isolation", "port-closed", "rp-filter"} <= known
    assert len(known) == len(known_reasons())  # no duplicates
