"""Enter a network namespace by path, without ever creating one.

Python 3.11 has no `os.setns`; pyroute2's `netns.setns` defaults to O_CREAT, which would
silently make an empty namespace out of a typo. This goes straight to setns(2).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

CLONE_NEWNET = 0x40000000
_libc: ctypes.CDLL | None = None


def _get_libc() -> ctypes.CDLL:
    """libc, resolved once per process tree.

    `find_library` runs `ldconfig -p` in a subprocess: a fork and an exec in every probe
    worker. Resolved at import instead, in the forkserver that preloads this module, the
    workers inherit the handle.
    """
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


if getattr(os, "setns", None) is None:
    _get_libc()


def enter_netns(path: str, inode: int | None = None) -> None:
    """Move the calling thread (and the threads it starts later) into the namespace at `path`.

    `inode`: the namespace the caller means (a container's, seen at build time). A container
    that stopped and whose pid was reused would otherwise hand us another process's
    namespace, and probes from there could pass for the container's.
    """
    setns = getattr(os, "setns", None)  # Python >= 3.12
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        # The lab changed under us (a namespace removed, a container gone): say so plainly,
        # so the probe is an ERROR with its cause and never mistaken for silence.
        raise OSError(exc.errno, f"could not enter namespace {path}: {exc.strerror}") from exc
    try:
        if inode is not None and os.fstat(fd).st_ino != inode:
            raise OSError(errno.ESTALE, f"could not enter namespace {path}: it is no longer "
                                        "the one netcheck found (the container stopped or "
                                        "restarted)")
        if setns is not None:
            setns(fd, CLONE_NEWNET)
            return
        libc = _get_libc()
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"could not enter namespace {path}: setns: {os.strerror(err)}")
    finally:
        os.close(fd)
