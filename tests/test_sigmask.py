"""Threads netcheck starts never take SIGINT/SIGTERM: only the main thread can raise."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from netcheck.sigmask import Interrupted, signals_blocked, signals_deferred, sigterm_raises


def blocked_mask() -> int:
    for line in Path("/proc/thread-self/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigBlk line")


def bit(sig: signal.Signals) -> int:
    return 1 << (int(sig) - 1)


def test_threads_started_inside_block_both_signals_and_the_caller_does_not() -> None:
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(blocked_mask()))
    with signals_blocked():
        thread.start()
    thread.join()
    assert seen[0] & bit(signal.SIGTERM) and seen[0] & bit(signal.SIGINT)
    assert not blocked_mask() & (bit(signal.SIGTERM) | bit(signal.SIGINT))


def test_threads_started_outside_keep_the_default_mask() -> None:
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(blocked_mask()))
    thread.start()
    thread.join()
    assert not seen[0] & bit(signal.SIGTERM)


def test_a_signal_sent_inside_waits_for_the_end_of_the_block() -> None:
    handled: list[str] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: handled.append("handled"))
    try:
        with signals_blocked():
            signal.raise_signal(signal.SIGTERM)
            handled.append("cleanup finished")
        handled.append("after")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert handled == ["cleanup finished", "handled", "after"]


# --- signals whose exception Python would ignore ------------------------------------------

_FORK_HOOK_ARMED: list[bool] = []


def _signal_in_fork_hook() -> None:
    if _FORK_HOOK_ARMED:
        _FORK_HOOK_ARMED.clear()
        signal.raise_signal(signal.SIGTERM)


os.register_at_fork(after_in_parent=_signal_in_fork_hook)  # inert unless armed


def _raised_within(seconds: float) -> BaseException | None:
    """Wait (bounded) for the handler's exception to reach this frame."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except KeyboardInterrupt as exc:
        return exc
    return None


def test_sigterm_raised_in_a_fork_hook_is_not_lost() -> None:
    # The CI find: SIGTERM landed in logging's fork hook while pyroute2 forked; Python
    # printed "Exception ignored" and the run went on to exit 0.
    with sigterm_raises():
        _FORK_HOOK_ARMED.append(True)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        exc = _raised_within(10)
    assert isinstance(exc, Interrupted) and exc.signum == signal.SIGTERM


def test_ctrl_c_raised_in_a_finalizer_is_not_lost() -> None:
    class Finalized:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)

    with sigterm_raises():
        obj = Finalized()
        del obj
        exc = _raised_within(10)
    assert type(exc) is KeyboardInterrupt


def test_other_unraisable_exceptions_still_reach_the_previous_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: seen.append(args.exc_value))

    class Failing:
        def __del__(self) -> None:
            raise ValueError("not a signal")

    with sigterm_raises():
        obj = Failing()
        del obj
    assert len(seen) == 1 and isinstance(seen[0], ValueError)


# --- teardown deferral --------------------------------------------------------------------


def test_a_signal_while_the_holding_handlers_are_installed_is_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Between installing the first and the second handler, the other's old handler would
    # run and raise out of the deferral: the teardown it guards would never start.
    real = signal.signal
    installs: list[int] = []

    def signal_then_sigterm(signum: int, handler: object) -> object:
        old = real(signum, handler)  # type: ignore[arg-type]
        installs.append(signum)
        if len(installs) == 1:  # the other one still has its old handler
            other = signal.SIGTERM if signum == signal.SIGINT else signal.SIGINT
            signal.raise_signal(other)
        return old

    steps: list[str] = []
    with sigterm_raises(), pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(signal, "signal", signal_then_sigterm)
        with signals_deferred():
            monkeypatch.setattr(signal, "signal", real)
            steps.append("teardown")
    assert steps == ["teardown"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
