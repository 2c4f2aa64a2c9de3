"""The diagnosis contract: a rule reads one failed or unreachable probe plus live state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from netcheck.diagnose.live import LiveState
from netcheck.model.plan import Expectation, Plan
from netcheck.model.results import Finding, ProbeResult, Topology


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One probe that did not reach its target, to be explained."""

    expectation: Expectation
    result: ProbeResult
    plan: Plan
    topology: Topology
    live: LiveState


class Rule(Protocol):
    id: str

    def explain(self, case: Case) -> Finding | None: ...


_REGISTRY: dict[str, Callable[[], Rule]] = {}


def register(rule_id: str, factory: Callable[[], Rule]) -> None:
    _REGISTRY[rule_id] = factory


def registered() -> Mapping[str, Callable[[], Rule]]:
    return dict(_REGISTRY)
