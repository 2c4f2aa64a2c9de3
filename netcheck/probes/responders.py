"""Listeners that make TCP/UDP probes answerable: one small process per namespace.

TCP: a listening socket that accepts and closes (a SYN probe only needs the SYN-ACK the
kernel sends for a listening port). UDP: echo each datagram back to its sender.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Port, ProbeKind
from netcheck.model.sites import ProbeSite
from netcheck.probes import sites
from netcheck.probes._netns import enter_netns
from netcheck.probes.base import ListenTask
from netcheck.probes.pool import get_context, start_process
from netcheck.probes.sites import ServeFn

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 2.0


def _bind(port: Port) -> socket.socket:
    """One dual-stack socket on ::, or 0.0.0.0 when the namespace has no IPv6."""
    stype = socket.SOCK_STREAM if port.proto is ProbeKind.TCP else socket.SOCK_DGRAM
    try:
        sock = socket.socket(socket.AF_INET6, stype)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr: tuple[Any, ...] = ("::", port.number)
    except OSError as exc:
        if exc.errno not in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            raise
        sock = socket.socket(socket.AF_INET, stype)
        addr = ("0.0.0.0", port.number)  # noqa: S104 - listening on every lab address is the point
    try:
        if stype == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            if addr[0] != "::" or exc.errno != errno.EADDRNOTAVAIL:
                raise
            # IPv6 exists but is disabled in this namespace (disable_ipv6=1).
            sock.close()
            sock = socket.socket(socket.AF_INET, stype)
            if stype == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port.number))  # noqa: S104
        if stype == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
        return sock
    except BaseException:
        sock.close()
        raise


def serve(conn: Connection, site: ProbeSite, serve_fn: ServeFn, ports: Sequence[Port]) -> None:
    """Child process: run the site's responder (`serve_fn`, looked up by the parent in
    netcheck.probes.sites: `serve_local` here, or a runtime's, e.g. a remote sidecar)."""
    serve_fn(conn, site, ports)


def serve_local(conn: Connection, site: ProbeSite, ports: Sequence[Port]) -> None:
    """Bind everything in the site's namespace, say "ready", serve until told to stop or
    orphaned."""
    socks: list[tuple[socket.socket, Port]] = []
    try:
        netns = site.netns
        if netns is None:
            raise OSError(f"{site} has no namespace on this machine")
        enter_netns(netns, getattr(site, "inode", None))
        for port in ports:
            try:
                socks.append((_bind(port), port))
            except OSError as exc:
                raise OSError(exc.errno, f"cannot listen on {port}: {exc.strerror}") from exc
    except BaseException as exc:
        # The parent may be gone already (a run torn down by a signal while this child was
        # still starting): then there is no one to tell.
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        conn.close()
        return
    try:
        conn.send(("ready", [str(p) for p in ports]))
    except OSError:
        return
    sel = selectors.DefaultSelector()
    for sock, port in socks:
        sel.register(sock, selectors.EVENT_READ, port)
    # The pipe closes when the parent goes away: stop then, rather than linger as an orphan.
    sel.register(conn, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            port = key.data
            if port is None:
                return
            listener = key.fileobj
            if not isinstance(listener, socket.socket):
                continue
            try:
                if port.proto is ProbeKind.TCP:
                    peer, _addr = listener.accept()
                    peer.close()
                else:
                    data, addr = listener.recvfrom(65535)
                    listener.sendto(data, addr)
            except OSError:  # a peer that went away, a full buffer: keep serving others
                continue


class Responders:
    """Context manager: TCP listeners and UDP echoers in each namespace of `tasks`.

    Ready (every socket bound) when `__enter__` returns; otherwise raises RuntimeBuildError,
    or with `strict=False` names the nodes that could not listen in `failed`.
    Stopped by PID on `__exit__`: SIGTERM, then SIGKILL after a bound.
    """

    def __init__(
        self,
        tasks: Sequence[ListenTask],
        *,
        ready_timeout: float = READY_TIMEOUT_S,
        stop_timeout: float = STOP_TIMEOUT_S,
        strict: bool = True,
    ) -> None:
        self._tasks = [t for t in tasks if t.ports]
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        # strict: one responder that cannot start fails them all. Otherwise its node is
        # recorded in `failed` (node -> why) and the others serve on.
        self._strict = strict
        self.failed: dict[str, str] = {}
        self._procs: list[tuple[ListenTask, Any, Connection]] = []

    @property
    def pids(self) -> dict[str, int]:
        return {t.node: p.pid for t, p, _ in self._procs if p.pid is not None}

    def __enter__(self) -> Responders:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        ctx = get_context()
        for task in self._tasks:
            try:
                entry = sites.entry_for(task.site)
            except sites.UnknownSite as exc:
                if self._strict:
                    raise RuntimeBuildError(f"responder for {task.node}: {exc}") from None
                self.failed[task.node] = str(exc)
                continue
            parent_conn, child_conn = ctx.Pipe(duplex=True)
            proc = ctx.Process(  # type: ignore[attr-defined]
                target=serve,
                args=(child_conn, task.site, entry.serve, task.ports),
                name=f"netcheck-responder:{task.node}",
                daemon=True,
            )
            start_process(proc)
            child_conn.close()
            self._procs.append((task, proc, parent_conn))
        deadline = time.monotonic() + self._ready_timeout
        for task, proc, conn in self._procs:
            remaining = max(0.0, deadline - time.monotonic())
            where = f"responder for {task.node} ({task.site})"
            problem = self._await_ready(proc, conn, remaining)
            if problem is None:
                continue
            if self._strict:
                raise RuntimeBuildError(f"{where}: {problem}")
            log.warning("%s: %s", where, problem)
            self.failed[task.node] = problem

    def _await_ready(self, proc: Any, conn: Connection, remaining: float) -> str | None:
        """None once the responder has bound every socket; else why it has not."""
        if not conn.poll(remaining):
            return f"not ready within {self._ready_timeout:g} s"
        try:
            msg = conn.recv()
        except EOFError:
            proc.join(1.0)
            return f"exited before it was ready (exit code {proc.exitcode})"
        if msg[0] != "ready":
            return str(msg[1])
        log.debug("responder pid %s ready on %s", proc.pid, ", ".join(msg[1]))
        return None

    def stop(self) -> None:
        procs, self._procs = self._procs, []
        for _task, proc, _conn in procs:
            if proc.pid is not None and proc.exitcode is None:
                proc.terminate()
        deadline = time.monotonic() + self._stop_timeout
        for task, proc, conn in procs:
            if proc.pid is None:
                conn.close()
                continue
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                log.warning(
                    "responder for %s (pid %s) ignored SIGTERM; killing", task.node, proc.pid
                )
                proc.kill()
                proc.join(self._stop_timeout)
            conn.close()
