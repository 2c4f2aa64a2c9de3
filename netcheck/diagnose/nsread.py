"""Read per-namespace files (/proc/net/*, /proc/sys/net/*) from inside a network namespace.

/proc/thread-self/net and /proc/sys/net resolve against the calling *thread's* namespace,
so a short-lived helper thread enters the namespace (setns) and reads; the main thread
never changes namespace and no process is forked (nsenter costs ~5 ms each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from netcheck.nsenter import in_netns

log = logging.getLogger(__name__)


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
    """Run `work` inside `netns` (not at all if the namespace cannot be entered: a read of
    a namespace that is gone reads nothing, and the failure is logged)."""
    try:
        in_netns(netns, work)
    except OSError as exc:
        log.debug("enter %s: %s", netns, exc)


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
