"""The typed event stream the engine emits; the console, pytest plugin and reporters listen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netcheck.model.results import RunRecord, Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted:
    run_id: str
    scenario: str
    runtime: str
    expectations: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseStarted:
    phase: str  # build, listen, probe, diagnose, teardown


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    phase: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseFinished:
    phase: str
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictReady:
    verdict: Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished:
    record: RunRecord


Event = RunStarted | PhaseStarted | Progress | PhaseFinished | VerdictReady | RunFinished
Listener = Callable[[Event], None]
