"""Process entry points, kept free of scapy so the parent can name them without importing it."""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from netcheck.model.sites import ProbeSite
from netcheck.probes.base import Pacing, ProbeTask, WorkerReport, wait_for_go
from netcheck.probes.kinds.base import Kind, register

ProbeFn = Callable[[Any, Sequence[ProbeTask], float], WorkerReport]


def probe_local(
    site: ProbeSite, tasks: Sequence[ProbeTask], timeout: float, pacing: Pacing | None = None,
    go: Any = None,
) -> WorkerReport:
    """A site on this machine: enter its namespace file and probe from there."""
    # Already imported when forked from the preloaded forkserver; a plain import otherwise.
    from netcheck.probes.worker import probe_namespace

    path = site.netns
    if path is None:
        raise OSError(f"{site} has no namespace on this machine")
    return probe_namespace(path, tasks, timeout, getattr(site, "inode", None), pacing, go)


def probe_worker(
    conn: Connection,
    site: ProbeSite,
    probe: ProbeFn,
    tasks: Sequence[ProbeTask],
    timeout: float,
    pacing: Pacing | None = None,
    kinds: Sequence[Kind] = (),
    go: Any = None,
) -> None:
    """Child side of one probe worker: one message back, ("ok", WorkerReport) or ("error", text).

    `probe` is how this kind of site is entered (netcheck.probes.sites), looked up by the
    parent: a local namespace here, or what a runtime registered (a remote sidecar).
    `pacing` is given to local sites only (the host's neighbour table is theirs): such a
    worker stays after its report, freeing neighbour entries, until `pacing.stop`.
    `kinds` are the probe kinds the parent registered at run time (kinds.added()): they
    travel pickled, by their class's module, which this process then imports.
    `go`: an event the worker waits for before its first probe (a local one after entering
    its namespace and looking up its routes, so that work overlaps the parent's).
    """
    lingering = False
    try:
        for kind in kinds:
            register(kind)
        if pacing is not None:
            report = probe_local(site, tasks, timeout, pacing, go)
            lingering = True
        elif probe is probe_local:
            report = probe_local(site, tasks, timeout, None, go)
        else:
            wait_for_go(go)
            report = probe(site, tasks, timeout)
        conn.send(("ok", report))
        conn.close()
        if lingering and pacing is not None:
            from netcheck.probes.worker import linger

            linger(pacing.stop)
    except BaseException as exc:
        tb = traceback.format_exc(limit=6)
        # If even this fails, the parent reports the silent exit as a crash.
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}", tb))
    finally:
        conn.close()


def probe_workers(
    jobs: Sequence[tuple[Connection, ProbeSite, Sequence[ProbeTask], Pacing | None]],
    timeout: float,
    kinds: Sequence[Kind] = (),
    go: Any = None,
) -> None:
    """One process serving several local namespaces: `probe_worker` on a thread each.

    setns(CLONE_NEWNET) moves the calling thread only, and the sockets a thread opens stay
    in its namespace; forking a process per namespace cost ~16 ms of the parent's time
    each (2.3 s for 100). Only for sites whose probes are all L3 (scapy's interface table
    is per process; L3 probes never ask it).
    """
    for kind in kinds:
        register(kind)
    threads = [
        threading.Thread(
            target=probe_worker, args=(conn, site, probe_local, chunk, timeout, pacing, (), go),
            name=f"netcheck-probe:{site}", daemon=True,
        )
        for conn, site, chunk, pacing in jobs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def noop() -> None:
    """A child that only proves the forkserver is up (pool.warm_up)."""
