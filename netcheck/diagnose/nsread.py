"""Read per-namespace files (/proc/net/*, /proc/sys/net/*) from inside a network namespace.

/proc/thread-self/net and /proc/sys/net resolve against the calling *thread's* namespace,
so a short-lived helper thread enters the namespace (setns) and reads; the main thread
never changes namespace and no process is forked (nsenter costs ~5 ms each).
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence

from netcheck.sigmask import signals_blocked

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0

log = logging.getLogger(__name__)
_libc = ctypes.CDLL(None, use_errno=True)


def read_files(netns: str, paths: Sequence[str]) -> dict[str, str | None]:
    """Each path's text as seen inside `netns` (None when unreadable). `/proc/net/...` is
    read through /proc/thread-self/net, which follows the thread's namespace."""
    out: dict[str, str | None] = dict.fromkeys(paths)

    def work() -> None:
        for path in paths:
            real = path.replace("/proc/net/", "/proc/thread-self/net/", 1)
            try:
                with open(real, encoding="utf-8", errors="replace") as fh:
                    out[path] = fh.read()
            except OSError as exc:
                log.debug("read %s in %s: %s", path, netns, exc)

    _in_netns(netns, work)
    return out


def _in_netns(netns: str, work: Callable[[], None]) -> None:
    """Run `work` on a short-lived thread that entered `netns` first (not at all if the
    namespace cannot be entered: the failure is logged and `work` never runs)."""

    def enter_and_work() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.debug("open %s: %s", netns, exc)
            return
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                log.debug("setns %s: %s", netns, os.strerror(ctypes.get_errno()))
                return
        finally:
            os.close(fd)
        work()

    thread = threading.Thread(target=enter_and_work, name="netcheck-nsread", daemon=True)
    with signals_blocked():
        thread.start()
    thread.join()


def netlink_fd(netns: str) -> int:
    """A NETLINK_ROUTE socket's fd that talks to `netns` for as long as it lives (a socket
    keeps the namespace it was made in). Made on a thread, so no process is forked: a
    pyroute2 `IPRoute(netns=...)` forks the whole program per call, ~17 ms each in a
    small one and more as the run grows, which a diagnosis of thousands of silent probes
    cannot afford. Raises OSError when the namespace cannot be entered."""
    got: list[int] = []
    failed: list[OSError] = []

    def work() -> None:
        try:
            got.append(socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                                     NETLINK_ROUTE).detach())
        except OSError as exc:
            failed.append(exc)

    _in_netns(netns, work)
    if failed:
        raise failed[0]
    if not got:
        raise OSError(f"cannot enter the network namespace {netns}")
    return got[0]


def sysctl_file(key: str) -> str:
    """`net.ipv4.conf.bond0/51.rp_filter` or a /proc/sys path -> its /proc/sys file."""
    if key.startswith("/proc/sys/"):
        return key
    parts = key.split(".")
    return "/proc/sys/" + "/".join(p.replace("/", ".") for p in parts)


def read_sysctls(netns: str, keys: Sequence[str]) -> dict[str, str | None]:
    files = {k: sysctl_file(k) for k in keys}
    got = read_files(netns, list(files.values()))
    return {k: (None if got[f] is None else str(got[f]).strip()) for k, f in files.items()}
