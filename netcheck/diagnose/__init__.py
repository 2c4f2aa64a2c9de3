"""Explain probes that did not reach: rules read evidence and live state into findings.

Each rule sits in its own module under `rules/` behind the `Rule` protocol and is
registered here by its id (the word a scenario's `reason:` names).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from netcheck.diagnose.base import Case, register, registered
from netcheck.diagnose.live import LiveState, ReprobeFn
from netcheck.diagnose.rules import RULES
from netcheck.diagnose.rules.kernel_feature import explain_skip
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.plan import Expectation, Plan
from netcheck.model.results import Finding, Observation, ProbeResult, Topology
from netcheck.model.sites import SiteNotLocal

log = logging.getLogger(__name__)

for _rule in RULES:
    register(_rule.id, _rule)

__all__ = ["Case", "LiveState", "ProbeWindow", "diagnose", "explain_skip", "registered"]


def diagnose(
    plan: Plan,
    topology: Topology,
    pairs: Sequence[tuple[Expectation, ProbeResult]],
    *,
    window: ProbeWindow | None = None,
    timeout: float = 1.0,
    reprobe: ReprobeFn | None = None,
) -> Mapping[str, tuple[Finding, ...]]:
    """Findings per expectation id, for every probe that did not get a real answer."""
    live = LiveState(window, timeout=timeout, reprobe=reprobe)
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
            except SiteNotLocal as exc:
                # A remote container's namespace cannot be read from here: no evidence,
                # so no finding (the verdict stands on the probe alone).
                log.debug("diagnosis rule %s on %s: %s", rule.id, exp.id, exc)
                continue
            except Exception:  # a broken rule must not hide the verdicts of the others
                log.exception("diagnosis rule %s failed on %s", rule.id, exp.id)
                continue
            if finding is not None:
                found.append(finding)
        out[exp.id] = tuple(found)
    return out
