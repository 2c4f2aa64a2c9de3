"""Process entry points, kept free of scapy so the parent can name them without importing it."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection

from netcheck.probes.base import ProbeTask

# Namespace references of containers on remote Docker hosts (netcheck.runtime.docker.remote).
REMOTE_PREFIX = "docker-container:"


def probe_worker(conn: Connection, netns: str, tasks: Sequence[ProbeTask], timeout: float) -> None:
    """Child side of one probe worker: one message back, ("ok", WorkerReport) or ("error", text)."""
    try:
        if netns.startswith(REMOTE_PREFIX):
            # A container on another Docker host: a sidecar there runs the same worker.
            from netcheck.runtime.docker.remote import probe_remote

            report = probe_remote(netns, tasks, timeout)
        else:
            # Already imported when forked from the preloaded forkserver; a plain import
            # otherwise.
            from netcheck.probes.worker import probe_namespace

            report = probe_namespace(netns, tasks, timeout)
        conn.send(("ok", report))
    except BaseException as exc:
        tb = traceback.format_exc(limit=6)
        # If even this fails, the parent reports the silent exit as a crash.
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}", tb))
    finally:
        conn.close()


def noop() -> None:
    """A child that only proves the forkserver is up (pool.warm_up)."""
