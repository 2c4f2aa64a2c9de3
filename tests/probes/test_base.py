"""probes/base.py: a worker waiting for its parent's go leaves when the parent dies."""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from netcheck.probes.base import wait_for_go


def _waiter(go: Any, conn: Any) -> None:
    try:
        wait_for_go(go)
        conn.send("go")
    except SystemExit as exc:
        conn.send(f"left: {exc}")


def _parent(conn: Any, pid_conn: Any) -> None:
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    child = ctx.Process(target=_waiter, args=(go, conn), daemon=False)
    child.start()
    pid_conn.send(child.pid)
    os._exit(0)  # dies without saying go, as a run killed between start and record does


def test_a_worker_leaves_when_its_parent_dies_before_the_go() -> None:
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    pid_recv, pid_send = ctx.Pipe(duplex=False)
    parent = ctx.Process(target=_parent, args=(send, pid_send))
    parent.start()
    parent.join(10)
    child_pid = pid_recv.recv()
    assert recv.poll(30), "the waiting worker outlived its parent"
    assert recv.recv().startswith("left: the run that started this probe worker is gone")
    for _ in range(100):  # it exits, too (reaped by init)
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"worker {child_pid} still runs 10 s after leaving")


def test_the_go_releases_a_waiting_worker() -> None:
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_waiter, args=(go, send))
    child.start()
    go.set()
    assert recv.poll(30)
    assert recv.recv() == "go"
    child.join(10)
    assert child.exitcode == 0
