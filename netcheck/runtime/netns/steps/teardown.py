"""Teardown pieces: each forgets an item before removing it, so a second call after an
interrupted one carries on where the first stopped."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from netcheck.runtime.netns import nsfs
from netcheck.runtime.netns.context import describe

log = logging.getLogger(__name__)


def close_sockets(ipr: dict[str, Any]) -> None:
    """Close every netlink socket into the lab (best effort: the namespace goes anyway)."""
    while ipr:
        _, sock = ipr.popitem()
        with contextlib.suppress(Exception):
            sock.close()


def remove_namespaces(created: dict[str, int]) -> list[str]:
    """Remove every namespace created (their links go with them); closes a netlink fd still
    owned here (>= 0). Returns the paths whose removal failed; one failure never strands
    the rest."""
    failed: list[str] = []
    while created:
        path, fd = created.popitem()
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        try:
            nsfs.remove(path)
        except Exception as exc:  # keep going: one bad item must not strand the rest
            log.warning("teardown: removing %s failed (%s); retrying once", path, describe(exc))
            failed.append(path)
    return failed


def retry_removals(failed: list[str]) -> list[str]:
    """One bounded retry, for a transient failure (EBUSY). Returns what is still left."""
    errors: list[str] = []
    for path in failed:
        try:
            nsfs.remove(path)
        except Exception as exc:
            errors.append(f"{path}: {describe(exc)}")
    return errors
