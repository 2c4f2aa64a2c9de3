"""Work inside an existing network namespace on a short-lived thread (setns), no fork.

Namespaces are per *thread* in Linux: a helper thread enters the namespace, does its work
(open a netlink socket there, read /proc/thread-self/net, write /proc/sys/net) and ends;
the main thread never changes namespace. A socket keeps the namespace it was made in, so
a netlink socket made here talks to that namespace for as long as it lives. pyroute2's
`IPRoute(netns=...)` forks the whole program instead (~17 ms each in a small process, more
as the run grows). Used by the runtime (build steps) and the diagnosis (live reads), which
may not import each other: this sits below both.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable

from netcheck.sigmask import signals_blocked

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0

_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(path: str, work: Callable[[], None]) -> None:
    """Run `work` on a helper thread that entered the namespace at `path` first. An error
    entering (OSError, with the path) or from `work` is raised here."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns: {os.strerror(err)}", path)
            finally:
                os.close(fd)
            work()
        except BaseException as exc:
            errors.append(exc)

    # The thread inherits the blocked mask: a SIGINT/SIGTERM is never delivered to it (it
    # would only be noted, and the main thread could wait in a join that never wakes).
    thread = threading.Thread(target=run, name="netcheck-netns", daemon=True)
    with signals_blocked():
        thread.start()
    thread.join()
    if errors:
        raise errors[0]


def netlink_fd(path: str) -> int:
    """The fd of a NETLINK_ROUTE socket made inside the namespace at `path` (hand it to
    IPRoute(fileno=...), whose close closes it). Raises OSError when it cannot be entered."""
    got: list[int] = []
    in_netns(path, lambda: got.append(
        socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE).detach()))
    return got[0]
