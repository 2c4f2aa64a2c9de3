"""probes/base.py: a worker waiting for its parent's go leaves when the parent dies."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from typing import Any

from netcheck.probes.base import wait_for_go


def _waiter(go: Any, conn: Any, go_w: Any = None) -> None:
    if go_w is not None:  # forked: only the parent keeps the end that says go
        go_w.close()
    try:
        wait_for_go(go)
        conn.send("go")
    except SystemExit as exc:
        conn.send(f"left: {exc}")


def _parent(conn: Any, pid_conn: Any) -> None:
    ctx = multiprocessing.get_context("fork")
    go, go_w = socket.socketpair()
    child = ctx.Process(target=_waiter, args=(go, conn, go_w), daemon=False)
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


def test_the_go_releases_every_waiting_worker() -> None:
    ctx = multiprocessing.get_context("fork")
    go, go_w = socket.socketpair()
    pipes = [ctx.Pipe(duplex=False) for _ in range(8)]
    children = [ctx.Process(target=_waiter, args=(go, send, go_w)) for _recv, send in pipes]
    for child in children:
        child.start()
    assert not any(recv.poll(0.5) for recv, _send in pipes)  # nobody goes before the byte
    go_w.send(b"g")  # one byte, peeked by all: none takes it from the others
    assert all(recv.poll(30) and recv.recv() == "go" for recv, _send in pipes)
    for child in children:
        child.join(10)
        assert child.exitcode == 0
    go_w.close()
    go.close()
