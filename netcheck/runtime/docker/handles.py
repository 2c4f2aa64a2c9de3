"""What the docker runtime's build and teardown steps share: the daemons a run talks to,
concurrent API calls, and how an API error reads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netcheck.runtime.docker.daemon import LabDaemon
from netcheck.sigmask import signals_blocked

log = logging.getLogger(__name__)

WORKERS = 16
T = TypeVar("T")


def api_message(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def is_gone(exc: BaseException) -> bool:
    """The API answered 404: what we meant to remove is already gone."""
    return getattr(getattr(exc, "response", None), "status_code", None) == 404


def parallel(fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
    """Run `fn` over items in threads; raise the first error after all have finished."""
    items = list(items)
    if not items:
        return []
    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(items)))
    futures: list[Future[Any]] = []
    try:
        # The pool's threads are born in submit(); the mask is restored before the join.
        with signals_blocked():
            for item in items:
                futures.append(pool.submit(fn, item))
        pool.shutdown(wait=True)
    except BaseException:
        # A signal in the join: calls still running would create what teardown, about to
        # read what exists, never sees (a container started after the list was taken).
        # Waited for by their futures: a thread join a signal interrupted marks the thread
        # stopped while it still runs (CPython 3.11), so joining again returns at once.
        pool.shutdown(wait=False, cancel_futures=True)
        while True:
            try:
                futures_wait(futures)
                break
            except BaseException:  # another Ctrl-C: the calls must still be waited for
                log.warning("still waiting for %d Docker call(s) to finish", len(items))
        raise
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]
    return [f.result() for f in futures]


@dataclass(slots=True, kw_only=True)
class DaemonHandle:
    """A daemon this run talks to: a lab daemon or a real one."""

    key: str  # host name, or DEFAULT_KEY
    url: str
    client: Any
    lab: LabDaemon | None = None
    advertise: str | None = None  # swarm advertise address (a lab host's uplink address)
    swarm_ours: bool = False
    networks: dict[str, str] = field(default_factory=dict)  # plan name -> docker id
    major: int | None = None  # the Engine's major version, read on first use
