"""Small run records for diff tests: one verdict per path, with the observation that decides it."""

from __future__ import annotations

import ipaddress

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Finding, Observation, Outcome, ProbeResult, RunRecord, Verdict

RP = Finding(
    id="rp-filter",
    summary="router drops replies (rp_filter=1)",
    evidence=("x",),
    fix="sysctl -w net.ipv4.conf.all.rp_filter=2",
)


def verdict(
    vid: str,
    outcome: Outcome,
    observation: Observation | None,
    *,
    reachable: bool = True,
    findings: tuple[Finding, ...] = (),
) -> Verdict:
    kind, rest = vid.split(":", 1)
    source, target = rest.split("->")
    result = None
    if observation is not None:
        port = int(kind.split("/")[1]) if "/" in kind else None
        result = ProbeResult(
            probe_id=vid,
            source=source,
            target=target,
            target_address=ipaddress.ip_address("10.0.0.2"),
            probe=ProbeSpec(kind=ProbeKind(kind.split("/")[0]), port=port),
            observation=observation,
            detail=observation.value,
        )
    return Verdict(
        expectation_id=vid,
        outcome=outcome,
        message=f"{outcome.value}: {vid}",
        expected="reachable" if reachable else "unreachable",
        observed=observation.value if observation else "skipped",
        result=result,
        findings=findings,
    )


def record(run_id: str, *verdicts: Verdict) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        scenario="lab",
        source="scenarios/lab.yaml",
        runtime="netns",
        started_at="2026-11-22T10:00:00+00:00",
        duration_s=1.0,
        phase_s={},
        facts={"kernel": "6.1"},
        verdicts=verdicts,
    )
