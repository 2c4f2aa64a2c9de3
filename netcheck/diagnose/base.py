"""The diagnosis contract: a rule reads one failed or unreachable probe plus live state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
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


class Strength(IntEnum):
    """How strongly a finding's evidence ties the silence to its cause (findings of one
    probe are ordered by it, strongest first)."""

    STATE = 1  # live state read from the nodes (links, routes, sysctls, rules)
    LOOKUP = 2  # the kernel judged this very packet (route lookup with iif, an ARP re-probe)
    KERNEL = 3  # the kernel said it dropped it: a drop reason or a counter that moved


@dataclass(frozen=True, slots=True, kw_only=True)
class Explained:
    """A finding with what the engine checks before emitting it.

    `reaches` lists (source node, target node) pairs the finding's evidence says can
    reach each other: if this run probed such a pair and got no answer, the finding
    contradicts the run's own observations and is not emitted. `arrives` names the nodes
    the finding says the request gets to: unless the packet-path walk observed it there,
    the finding is not emitted. `at` is the node where the finding says the packet dies:
    when the walk saw it dropped there, the finding is marked confirmed by that drop.
    """

    finding: Finding
    strength: Strength = Strength.STATE
    reaches: tuple[tuple[str, str], ...] = ()
    arrives: tuple[str, ...] = ()
    at: str | None = None


class Rule(Protocol):
    id: str

    def explain(self, case: Case) -> Finding | Explained | None: ...


_REGISTRY: dict[str, Callable[[], Rule]] = {}


def register(rule_id: str, factory: Callable[[], Rule]) -> None:
    _REGISTRY[rule_id] = factory


def registered() -> Mapping[str, Callable[[], Rule]]:
    return dict(_REGISTRY)
