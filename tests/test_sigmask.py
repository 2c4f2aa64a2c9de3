"""Threads netcheck starts never take SIGINT/SIGTERM: only the main thread can raise."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from netcheck.sigmask import signals_blocked


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
