"""Zero leftovers after a passing run, a failing run, and an exception inside every phase.

Each test compares an inventory of the machine (namespaces, root links, Docker objects, lab
daemons and workers, mounts, tracefs instances, state files) before and after; see
tests/reliability/inventory.py. Exceptions are injected in-process, in the middle of the
phase's work, not at its edges.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

import netcheck.diagnose
from netcheck.engine import events as ev
from netcheck.errors import NetcheckError
from netcheck.model.plan import Plan
from netcheck.model.results import Outcome
from netcheck.probes import responders
from netcheck.runtime.netns import nsfs
from tests.reliability import runs
from tests.reliability.inventory import Item

pytestmark = pytest.mark.privileged


class Injected(Exception):
    """The fault a test injects; nothing in netcheck raises it."""


def test_passing_run(clean_machine: frozenset[Item]) -> None:
    record = runs.run(runs.quickstart())
    assert record.ok, [v.message for v in record.verdicts if v.outcome is not Outcome.PASS]


def test_failing_run(clean_machine: frozenset[Item]) -> None:
    record = runs.run(runs.failing_quickstart())
    failed = [v for v in record.verdicts if v.outcome is Outcome.FAIL]
    assert [v.expectation_id for v in failed] == ["icmp:c1->host1", "icmp:c2->host1"]


def _raise_on(phase: str, nth: int = 1) -> Callable[[ev.Event], None]:
    """A listener that raises at the nth progress event of a phase: mid-phase."""
    seen = 0

    def listener(event: ev.Event) -> None:
        nonlocal seen
        if isinstance(event, ev.Progress) and event.phase == phase:
            seen += 1
            if seen == nth:
                raise Injected(f"injected in {phase}: {event.message}")

    return listener


def _run_with(plan: Plan, listener: Callable[[ev.Event], None] | None = None) -> Any:
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.runtime.naming import new_run_id

    return run_plan(plan, RunOptions(runtime="netns", run_id=new_run_id()), listener)


@pytest.mark.parametrize("nth", [1, 2, 3], ids=["namespaces", "switch", "endpoints"])
def test_exception_during_build(clean_machine: frozenset[Item], nth: int) -> None:
    # Build progress: "creating N namespaces", "switch: ...", "endpoints: ...", "waiting...".
    with pytest.raises((Injected, NetcheckError)):
        _run_with(runs.quickstart(), _raise_on("build", nth))


def test_exception_during_listen(
    clean_machine: frozenset[Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = responders.Responders._start
    started: list[dict[str, int]] = []

    def start_then_fail(self: responders.Responders) -> None:
        original(self)  # every responder is up and listening
        started.append(self.pids)
        raise Injected("injected in listen")

    monkeypatch.setattr(responders.Responders, "_start", start_then_fail)
    with pytest.raises(Injected):
        _run_with(runs.quickstart())
    assert started and started[0], "no responder was started: the fault hit nothing"
    for pid in started[0].values():
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid), f"responder {pid} lives on"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_exception_during_probe(clean_machine: frozenset[Item]) -> None:
    # After the first result, the other workers are still in flight.
    with pytest.raises(Injected):
        _run_with(runs.quickstart(), _raise_on("probe", 1))


def test_exception_during_diagnose(
    clean_machine: frozenset[Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise Injected("injected in diagnose")

    monkeypatch.setattr(netcheck.diagnose, "diagnose_all", broken)  # what the engine calls
    with pytest.raises(Injected):
        _run_with(runs.failing_quickstart())


def test_exception_during_teardown_is_retried(
    clean_machine: frozenset[Item], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure removing one namespace neither strands the others nor leaks that one:
    teardown carries on, then retries the failed item once (bounded, logged)."""
    original = nsfs.remove
    calls: list[str] = []

    def flaky(path: str) -> bool:
        calls.append(path)
        if len(calls) == 2:
            raise Injected(f"injected in teardown removing {path}")
        return original(path)

    monkeypatch.setattr(nsfs, "remove", flaky)
    with caplog.at_level(logging.WARNING):
        record = runs.run(runs.quickstart())
    assert record.ok
    assert calls.count(calls[1]) == 2, "the failed namespace was not retried"
    assert any("retrying once" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_teardown_is_held_until_done(
    clean_machine: frozenset[Item], monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """A signal in the middle of teardown used to abort it with an item already forgotten
    but not removed (a leaked namespace). Now teardown finishes, then the signal acts."""
    from netcheck.engine.run import Interrupted

    original = nsfs.remove
    calls: list[str] = []

    def signalled(path: str) -> bool:
        calls.append(path)
        if len(calls) == 2:
            os.kill(os.getpid(), signum)
        return original(path)

    monkeypatch.setattr(nsfs, "remove", signalled)
    expected = KeyboardInterrupt if signum == signal.SIGINT else Interrupted
    with pytest.raises(expected):
        runs.run(runs.quickstart())
    assert len(calls) > 2, "teardown stopped at the signal"
