"""Keep SIGINT and SIGTERM for the main thread.

The kernel hands a process-directed signal to any thread that does not block it. When a
helper thread gets SIGTERM, Python's handler only runs once the main thread next executes
bytecode; a main thread blocked in a netlink wait with no timeout never does, and the run
hangs instead of tearing down. Threads started inside `threads_ignore_signals()` inherit a
mask that blocks both signals, so only the main thread can take them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def threads_ignore_signals() -> Iterator[None]:
    """Threads started inside the block never receive SIGINT/SIGTERM.

    The caller's own mask is restored on exit; a signal that arrived meanwhile stays
    pending and is delivered to the caller then.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
