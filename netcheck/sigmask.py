"""SIGINT and SIGTERM in netcheck: raised in the main thread, held off code that must finish.

Blocking the signals in the calling thread (`signals_blocked`) has two uses:

- Threads started inside `signals_blocked()` inherit the mask and never take either
  signal. The kernel hands a process-directed signal to any thread that does not block
  it; Python's handler then only runs once the main thread next executes bytecode, and a
  main thread blocked in a netlink wait with no timeout never does: the run hangs instead
  of tearing down.
- Cleanup that must not stop half-way (unmount what was mounted, remove a trace instance)
  runs inside `signals_blocked()`: a signal that arrives meanwhile stays pending and is
  delivered, and raises, the moment the block ends.

Teardown, which forks (pyroute2) and whose children must still die of SIGTERM, is guarded
by handlers instead (`signals_deferred`): a signal is noted and raised once it is done.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
_RESEND_AFTER_S = 0.02


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so every `finally` (teardown) runs.

    A KeyboardInterrupt on purpose: asyncio (which pyroute2 runs in our thread) re-raises
    only SystemExit and KeyboardInterrupt from its callbacks; any other BaseException raised
    by the handler inside a transport callback is logged as "Fatal read error", swallowed,
    and the netlink request it interrupted then waits forever.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")


@contextmanager
def signals_blocked() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block ends; threads started inside never get them."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _die_if_forked_child(owner: int, signum: int) -> bool:
    """In a forked child, act as if no handler were installed; True when that happened.

    pyroute2 forks to open sockets in a namespace and ends the child with SIGTERM; the child
    inherits our handlers and must not raise into code that is not ours.
    """
    if os.getpid() == owner:
        return False
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return True


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into `Interrupted` so teardown runs, as it does for Ctrl-C; a signal
    whose exception Python ignored is sent again (`unraisable_signals_resent`)."""

    owner = os.getpid()

    def handler(signum: int, frame: FrameType | None) -> None:
        if _die_if_forked_child(owner, signum):
            return
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: the caller owns signal handling
        yield
        return
    try:
        with unraisable_signals_resent():
            yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while tearing down, then act on them.

    A signal that lands inside teardown would otherwise abort it half-way (an item already
    forgotten but not yet removed is leaked, and nothing calls teardown again). Held here
    and raised once teardown is done, unless an exception is already on its way out.
    """
    owner = os.getpid()
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if _die_if_forked_child(owner, signum):
            return
        log.warning("signal %d during teardown: finishing teardown first", signum)
        pending.append(signum)

    # Both handlers swap under the mask: a signal between the two calls would otherwise
    # run the old handler, raise out of here and skip the teardown (or, on the way out,
    # leave `hold` installed for good, and every later SIGTERM ignored).
    try:
        with signals_blocked():
            previous = {s: signal.signal(s, hold) for s in _SIGNALS}
    except ValueError:  # not the main thread: the caller owns signal handling
        yield
        return
    completed = False
    try:
        yield
        completed = True
    finally:
        with signals_blocked():
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    if completed and pending:
        if pending[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(pending[0])


def _signum_of(exc: BaseException | None) -> int | None:
    if isinstance(exc, Interrupted):
        return exc.signum
    if type(exc) is KeyboardInterrupt:
        return signal.SIGINT
    return None


def _send_again(pid: int, signum: int) -> None:
    # Let the main thread get out of the code that ignored the exception (and of the hook
    # that started this thread) first; landing in ignoring code again only repeats this.
    time.sleep(_RESEND_AFTER_S)
    os.kill(pid, signum)


def _send_later(pid: int, signum: int) -> None:
    thread = threading.Thread(target=_send_again, args=(pid, signum), daemon=True)
    with signals_blocked():  # only the main thread may take it
        thread.start()


@contextmanager
def unraisable_signals_resent() -> Iterator[None]:
    """Send a signal again when its exception was raised where Python ignores exceptions.

    The handler runs in whatever Python code the main thread executes next: a fork hook
    (logging's, when pyroute2 forks), a `__del__`, a weakref callback. Python prints what
    those raise ("Exception ignored in") and carries on: the run went on as if no signal
    had come. The signal is sent again, shortly, from a thread that blocks it (so only the
    main thread takes it).
    """
    previous = sys.unraisablehook
    pid = os.getpid()

    def hook(args: sys.UnraisableHookArgs) -> None:
        signum = _signum_of(args.exc_value)
        if signum is None or os.getpid() != pid:
            previous(args)
            return
        while True:
            try:
                log.debug("signal %d raised where Python ignores it: sending it again", signum)
                _send_later(pid, signum)
                return
            except KeyboardInterrupt as again:  # an exception here would be ignored too
                signum = _signum_of(again) or signum

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
