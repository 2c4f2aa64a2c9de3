"""Verdict logic: what passes, what fails, what is an error (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from netcheck.engine.judge import judge, not_tested
from netcheck.model.plan import Expectation, ProbeKind, ProbeSpec, Target
from netcheck.model.results import Finding, Observation, Outcome, ProbeResult

ICMP = ProbeSpec(kind=ProbeKind.ICMP)


def exp(reachable: bool = True, reason: str | None = None) -> Expectation:
    return Expectation(
        id="icmp:c1->c2", source="c1", target=Target(node="c2"), probe=ICMP,
        reachable=reachable, reason=reason,
    )


def result(obs: Observation, detail: str = "d") -> ProbeResult:
    return ProbeResult(
        probe_id="icmp:c1->c2", source="c1", target="c2",
        target_address=ipaddress.ip_address("10.0.0.2"), probe=ICMP,
        observation=obs, detail=detail,
    )


ISOLATION = Finding(id="macvlan-host-isolation", summary="s", evidence=("e",))


@pytest.mark.parametrize(
    ("reachable", "reason", "obs", "findings", "outcome"),
    [
        (True, None, Observation.ANSWERED, (), Outcome.PASS),
        (True, None, Observation.SILENT, (), Outcome.FAIL),
        (True, None, Observation.REFUSED, (), Outcome.FAIL),
        (True, None, Observation.ERROR, (), Outcome.ERROR),
        (False, None, Observation.SILENT, (), Outcome.PASS),
        (False, None, Observation.ICMP_ERROR, (), Outcome.PASS),
        (False, None, Observation.ANSWERED, (), Outcome.FAIL),
        (False, None, Observation.CONFLICT, (), Outcome.FAIL),
        # "could not send" never counts as unreachable
        (False, None, Observation.ERROR, (), Outcome.ERROR),
        (False, "macvlan-host-isolation", Observation.SILENT, (ISOLATION,), Outcome.PASS),
        (False, "macvlan-host-isolation", Observation.SILENT, (), Outcome.FAIL),
        (False, "port-closed", Observation.REFUSED, (), Outcome.PASS),
        (False, "port-closed", Observation.SILENT, (), Outcome.FAIL),
    ],
)
def test_outcomes(
    reachable: bool, reason: str | None, obs: Observation,
    findings: tuple[Finding, ...], outcome: Outcome,
) -> None:
    v = judge(exp(reachable, reason), result(obs), findings)
    assert v.outcome is outcome
    assert v.expectation_id == "icmp:c1->c2"


def test_failure_message_states_expected_and_observed() -> None:
    v = judge(exp(True), result(Observation.SILENT, "no echo reply in 1.0 s"), ())
    assert v.message == "expected reachable, observed silent: no echo reply in 1.0 s"


def test_wrong_reason_names_what_was_found() -> None:
    other = Finding(id="no-forwarding", summary="s", evidence=())
    v = judge(exp(False, "macvlan-host-isolation"), result(Observation.SILENT), (other,))
    assert v.outcome is Outcome.FAIL
    assert "no-forwarding" in v.message and "macvlan-host-isolation" in v.message


def test_not_tested() -> None:
    assert not_tested(exp(), "kernel lacks ipvlan", skip=True).outcome is Outcome.SKIP
    assert not_tested(exp(), "no address", skip=False).outcome is Outcome.ERROR


def dns_exp(to: str) -> Expectation:
    probe = ProbeSpec(kind=ProbeKind.DNS, qname="c2")
    return Expectation(id=f"dns/c2:c1->{to}", source="c1", target=Target(node=to),
                       probe=probe, reachable=True)


def dns_result(answers: tuple[str, ...]) -> ProbeResult:
    return ProbeResult(
        probe_id="dns/c2:c1->c2", source="c1", target="c2",
        target_address=ipaddress.ip_address("10.0.0.2"),
        probe=ProbeSpec(kind=ProbeKind.DNS, qname="c2"),
        observation=Observation.ANSWERED, detail="c2 -> " + ", ".join(answers),
        answered_by=answers,
    )


def test_dns_answer_must_hold_the_named_target() -> None:
    assert judge(dns_exp("c2"), dns_result(("10.0.0.2",)), ()).outcome is Outcome.PASS
    wrong = judge(dns_exp("c2"), dns_result(("10.0.0.9",)), ())
    assert wrong.outcome is Outcome.FAIL
    assert "resolved to 10.0.0.9, not to c2's 10.0.0.2" in wrong.message
    # no `to`: the target is the source itself, and any answer will do
    assert judge(dns_exp("c1"), dns_result(("10.0.0.9",)), ()).outcome is Outcome.PASS
