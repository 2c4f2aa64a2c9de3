"""Explain probes that did not reach: rules read evidence and live state into findings."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from netcheck.diagnose.base import Case, register, registered
from netcheck.diagnose.live import LiveState
from netcheck.diagnose.rules.basic import NoForwarding, NoRoute, PortClosed
from netcheck.diagnose.rules.macvlan_isolation import MacvlanHostIsolation
from netcheck.model.plan import Expectation, Plan
from netcheck.model.results import Finding, Observation, ProbeResult, Topology

log = logging.getLogger(__name__)

register(MacvlanHostIsolation.id, MacvlanHostIsolation)
register(PortClosed.id, PortClosed)
register(NoRoute.id, NoRoute)
register(NoForwarding.id, NoForwarding)


def diagnose(
    plan: Plan,
    topology: Topology,
    pairs: Sequence[tuple[Expectation, ProbeResult]],
) -> Mapping[str, tuple[Finding, ...]]:
    """Findings per expectation id, for every probe that did not get a real answer."""
    live = LiveState()
    rules = [factory() for factory in registered().values()]
    out: dict[str, tuple[Finding, ...]] = {}
    for exp, result in pairs:
        if result.observation is Observation.ANSWERED:
            continue
        case = Case(expectation=exp, result=result, plan=plan, topology=topology, live=live)
        found: list[Finding] = []
        for rule in rules:
            try:
                finding = rule.explain(case)
            except Exception:  # a broken rule must not hide the verdicts of the others
                log.exception("diagnosis rule %s failed on %s", rule.id, exp.id)
                continue
            if finding is not None:
                found.append(finding)
        out[exp.id] = tuple(found)
    return out
