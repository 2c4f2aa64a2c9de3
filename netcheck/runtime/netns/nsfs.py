"""Network namespaces as files under /run/netns, made the way `ip netns add` makes them.

Speed matters (a lab of 50 endpoints must come up in well under a second), so instead of
forking a child per namespace (pyroute2's way, ~6 ms each, plus another fork per netlink
socket) a short-lived helper thread does `unshare(CLONE_NEWNET)`, bind-mounts its own
namespace to the file, opens the netlink socket there and writes any sysctls, then exits.
Namespaces are per *thread* in Linux, so the main thread never changes namespace; the
helper thread runs nothing else and ends when its batch is done.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netcheck.nsenter import in_netns
from netcheck.sigmask import signals_blocked

CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2
NETLINK_ROUTE = 0

_libc = ctypes.CDLL(None, use_errno=True)
_shared_dirs: set[str] = set()
_shared_lock = threading.Lock()


class NamespaceError(OSError):
    """A namespace could not be created, entered or removed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NsSpec:
    path: str
    # "net/ipv4/ip_forward" -> "1": written inside the new namespace right after creation.
    sysctls: Mapping[str, str] = field(default_factory=dict)


def _check(result: int, what: str, path: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise NamespaceError(err, f"{what}: {os.strerror(err)}", path)


def _share_dir(netns_dir: str) -> None:
    """Make the directory a shared mount, as iproute2 does, so other mount namespaces
    (a dockerd started later, `ip netns exec`) see the namespaces bound into it."""
    with _shared_lock:
        if netns_dir in _shared_dirs:
            return
        os.makedirs(netns_dir, mode=0o755, exist_ok=True)
        dir_b = netns_dir.encode()
        if _libc.mount(b"", dir_b, b"none", MS_SHARED | MS_REC, None) != 0:
            if ctypes.get_errno() != errno.EINVAL:
                _check(-1, "make shared", netns_dir)
            # Not a mount point yet: bind it onto itself, then share it.
            _check(_libc.mount(dir_b, dir_b, b"none", MS_BIND | MS_REC, None), "bind", netns_dir)
            _check(
                _libc.mount(b"", dir_b, b"none", MS_SHARED | MS_REC, None), "share", netns_dir
            )
        _shared_dirs.add(netns_dir)


def _write_sysctls(sysctls: Mapping[str, str], path: str) -> None:
    # /proc/sys/net resolves against the calling thread's namespace at open time.
    for key, value in sysctls.items():
        # Only the namespace's own net/ sysctls: never a machine-wide one through '..'.
        if not os.path.normpath(f"/proc/sys/{key}").startswith("/proc/sys/net/"):
            raise NamespaceError(errno.EPERM, f"sysctl {key}: not a net/ sysctl", path)
        try:
            with open(f"/proc/sys/{key}", "w", encoding="ascii") as fh:
                fh.write(value)
        except OSError as exc:
            raise NamespaceError(
                exc.errno or 0, f"sysctl {key}={value}: {exc.strerror}", path
            ) from exc


def _create_one(spec: NsSpec, created: dict[str, int]) -> None:
    path = spec.path
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare", path)
        _check(
            _libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
            "bind mount",
            path,
        )
    except BaseException:
        os.unlink(path)
        raise
    created[path] = -1  # exists from here on, whatever fails next
    _write_sysctls(spec.sysctls, path)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    created[path] = sock.detach()


def create_many(
    specs: Sequence[NsSpec], created: dict[str, int], *, share_dir: bool = True
) -> None:
    """Create each namespace; fill `created` (path -> fd of a NETLINK_ROUTE socket in it).

    `created` is filled as it goes, so after a failure it holds what exists and must be
    removed (fd -1: the namespace exists but has no socket yet). Raises NamespaceError (or
    OSError) for the first failure. `share_dir=False` skips making the directory a shared
    mount (for private directories in tests).
    """
    if not specs:
        return
    for netns_dir in {os.path.dirname(s.path) for s in specs}:
        if share_dir:
            _share_dir(netns_dir)
        else:
            os.makedirs(netns_dir, mode=0o755, exist_ok=True)
    errors: list[BaseException] = []
    stop = threading.Event()
    done = threading.Event()

    def work() -> None:
        try:
            for spec in specs:
                if stop.is_set():
                    return
                _create_one(spec, created)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=work, name="netcheck-netns", daemon=True)
    interrupted: BaseException | None = None
    try:
        with signals_blocked():
            thread.start()
    except BaseException as exc:  # a signal held during start() raises as the block ends
        if thread.ident is None:
            raise
        stop.set()
        interrupted = exc
    # A signal (KeyboardInterrupt) lands in this thread while the helper runs: stop it and
    # wait for it, so `created` is complete before the caller tears down. Waited for by an
    # event, not join(): a join a signal interrupted marks the thread stopped while it
    # still runs (CPython 3.11), and is_alive() then says False.
    while not done.is_set():
        try:
            done.wait()
        except BaseException as exc:
            stop.set()
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted
    if errors:
        raise errors[0]


def write_sysctls(path: str, sysctls: Mapping[str, str]) -> None:
    """Write sysctls inside an existing namespace (a helper thread enters it, then exits)."""
    in_netns(path, lambda: _write_sysctls(sysctls, path))


def remove(path: str) -> bool:
    """Unmount and unlink a namespace file. True if something was removed; idempotent.

    The namespace itself dies when its last user (a socket, a process) lets go; its virtual
    links (veth, macvlan, bridge) die with it, nothing falls back into the root namespace.
    """
    existed = os.path.lexists(path)
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise NamespaceError(err, f"umount: {os.strerror(err)}", path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return existed


def list_dir(netns_dir: str) -> list[str]:
    try:
        return sorted(os.listdir(netns_dir))
    except FileNotFoundError:
        return []
