"""Hold SIGINT and SIGTERM off a stretch of code, and keep them for the main thread.

Two uses of one mechanism (blocking the signals in the calling thread):

- Threads started inside `signals_blocked()` inherit the mask and never take either
  signal. The kernel hands a process-directed signal to any thread that does not block
  it; Python's handler then only runs once the main thread next executes bytecode, and a
  main thread blocked in a netlink wait with no timeout never does: the run hangs instead
  of tearing down.
- Cleanup that must not stop half-way (unmount what was mounted, remove a trace instance)
  runs inside `signals_blocked()`: a signal that arrives meanwhile stays pending and is
  delivered, and raises, the moment the block ends.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def signals_blocked() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block ends; threads started inside never get them."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
