"""Compare what a probe saw with what the scenario expected (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from netcheck.model.plan import Expectation
from netcheck.model.results import Finding, Observation, Outcome, ProbeResult, Verdict
from netcheck.probes.kinds import kind_for

# Observation-level reasons a user may name in `reason:` without any diagnosis rule.
_OBSERVATION_REASONS: dict[Observation, tuple[str, ...]] = {
    Observation.REFUSED: ("port-closed", "refused"),
    Observation.SILENT: ("silent", "timeout"),
    Observation.ICMP_ERROR: ("icmp-error", "icmp-unreachable"),
    Observation.DNS_ERROR: ("dns-error",),
    Observation.TOO_BIG: ("too-big", "mtu"),
    Observation.CONFLICT: ("duplicate-ip", "conflict"),
}


def known_reasons() -> tuple[str, ...]:
    """Every word a scenario's `reason:` can name: the diagnosis rules' own ids (read from
    the rules, so a new rule is known at once) and the observation-level words above."""
    from netcheck.diagnose.rules import RULES  # the rules pull in live-state readers

    words = [rule.id for rule in RULES]
    for names in _OBSERVATION_REASONS.values():
        words.extend(names)
    return tuple(dict.fromkeys(words))


def expected_text(exp: Expectation) -> str:
    text = "reachable" if exp.reachable else "unreachable"
    return f"{text} ({exp.reason})" if exp.reason else text


def observed_text(result: ProbeResult) -> str:
    return f"{result.observation.value}: {result.detail}"


def reasons_seen(result: ProbeResult, findings: Sequence[Finding]) -> list[str]:
    return [f.id for f in findings] + list(_OBSERVATION_REASONS.get(result.observation, ()))


def judge(
    exp: Expectation, result: ProbeResult, findings: Sequence[Finding], duration_s: float = 0.0
) -> Verdict:
    expected = expected_text(exp)
    observed = observed_text(result)

    def verdict(outcome: Outcome, message: str) -> Verdict:
        return Verdict(
            expectation_id=exp.id,
            outcome=outcome,
            message=message,
            expected=expected,
            observed=observed,
            result=result,
            findings=tuple(findings),
            duration_s=duration_s,
        )

    if result.observation is Observation.ERROR:
        return verdict(Outcome.ERROR, f"could not test: {result.detail}")

    if exp.reachable:
        if result.observation is Observation.ANSWERED:
            # The kind may hold more against an answer (dns with `to:`: the wrong address).
            wrong = kind_for(exp.probe.kind).wrong_answer(exp, result)
            if wrong:
                return verdict(Outcome.FAIL, wrong)
            return verdict(Outcome.PASS, f"reachable: {result.detail}")
        return verdict(Outcome.FAIL, f"expected reachable, observed {observed}")

    # Expected unreachable: the probe went out (anything but ERROR) and got no real answer.
    # An ARP conflict is no real answer either when the scenario names it as the reason.
    conflict_named = (
        result.observation is Observation.CONFLICT
        and exp.reason is not None
        and exp.reason in reasons_seen(result, findings)
    )
    if result.observation is Observation.ANSWERED or (
        result.observation is Observation.CONFLICT and not conflict_named
    ):
        return verdict(Outcome.FAIL, f"expected unreachable, observed {observed}")
    if exp.reason is None:
        return verdict(Outcome.PASS, f"unreachable: {result.detail}")
    seen = reasons_seen(result, findings)
    if exp.reason in seen:
        return verdict(Outcome.PASS, f"unreachable ({exp.reason}): {result.detail}")
    because = ", ".join(seen) or "no finding"
    return verdict(
        Outcome.FAIL,
        f"unreachable as expected, but not for the expected reason {exp.reason!r}: "
        f"observed {observed}; reasons found: {because}",
    )


def not_tested(exp: Expectation, reason: str, *, skip: bool) -> Verdict:
    outcome = Outcome.SKIP if skip else Outcome.ERROR
    return Verdict(
        expectation_id=exp.id,
        outcome=outcome,
        message=("skipped: " if skip else "could not test: ") + reason,
        expected=expected_text(exp),
        observed=reason,
    )
