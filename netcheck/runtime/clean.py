"""`netcheck clean`: remove what killed runs left behind, and nothing else.

Only namespaces named exactly `nc-<runid>-<node>`, links aliased exactly `netcheck:<runid>`,
trace instances `netcheck-<runid>` and ssh socket directories are candidates, and only when
their run is dead: no state file, or the state file's process is gone (or the pid now
belongs to another process). A live run and anything without the prefix are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

from netcheck.runtime import state
from netcheck.runtime.naming import (
    ALIAS_PREFIX,
    NETNS_DIR,
    SSH_DIR_PREFIX,
    TRACE_PREFIX,
    is_run_id,
    parse_netns_name,
)
from netcheck.runtime.neightable import clean_sysctls
from netcheck.runtime.netns import nsfs

log = logging.getLogger(__name__)


def dead_runs(
    *, netns_dir: str = NETNS_DIR, state_dir: str = state.STATE_DIR
) -> dict[str, list[str]]:
    """Run id -> its namespace names, for every run that is not alive."""
    by_run: dict[str, list[str]] = {}
    for name in nsfs.list_dir(netns_dir):
        parsed = parse_netns_name(name)
        if parsed is not None:
            by_run.setdefault(parsed[0], []).append(name)
    for run_id in state.run_ids(state_dir):
        by_run.setdefault(run_id, [])
    out: dict[str, list[str]] = {}
    for run_id, names in sorted(by_run.items()):
        st = state.read(run_id, state_dir)
        if st is not None and state.is_alive(st):
            continue
        out[run_id] = sorted(names)
    return out


def clean(
    dry_run: bool = False,
    *,
    netns_dir: str = NETNS_DIR,
    state_dir: str = state.STATE_DIR,
    runs: Collection[str] | None = None,
) -> list[str]:
    """Remove dead runs' namespaces and state files; return what was (or would be) removed.

    Entries are namespace names and state file paths. `runs` limits the sweep to those run
    ids (tests use it so as not to sweep other people's leftovers).
    """
    removed: list[str] = []
    for run_id, names in dead_runs(netns_dir=netns_dir, state_dir=state_dir).items():
        if runs is not None and run_id not in runs:
            continue
        for name in names:
            if dry_run or nsfs.remove(f"{netns_dir}/{name}"):
                removed.append(name)
                log.info("%s namespace %s", "would remove" if dry_run else "removed", name)
        path = state.state_path(run_id, state_dir)
        if path.exists() and (dry_run or state.remove(run_id, state_dir)):
            removed.append(str(path))
    if netns_dir == NETNS_DIR:  # tracefs is machine-wide: not for private test directories
        removed += clean_root_links(dry_run, runs=runs, state_dir=state_dir)
        removed += clean_tracefs(dry_run, runs=runs, state_dir=state_dir)
    # Host sysctls a dead run raised (--grow-neigh-table): restored, not removed.
    removed += clean_sysctls(dry_run, state_dir=state_dir, runs=runs)
    if runs is None:
        removed += clean_ssh_dirs(dry_run)
    return removed


_ALIAS = re.compile(re.escape(ALIAS_PREFIX) + r"([0-9a-f]{6})")


def clean_root_links(
    dry_run: bool = False, *, runs: Collection[str] | None = None,
    state_dir: str = state.STATE_DIR,
) -> list[str]:
    """Links in this (the root) namespace marked `netcheck:<runid>` (IFLA_IFALIAS) whose run
    is dead. Links in a run's own namespaces go with the namespace; one that ended up here
    does not, and a link without exactly that alias is never touched."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    removed: list[str] = []
    with IPRoute() as ipr:
        for link in ipr.get_links():
            alias = link.get_attr("IFLA_IFALIAS") or ""
            match = _ALIAS.fullmatch(alias)
            if match is None or not _dead(match.group(1), runs, state_dir):
                continue
            name = link.get_attr("IFLA_IFNAME")
            if not dry_run:
                try:
                    ipr.link("del", index=link["index"])
                except NetlinkError as exc:
                    if exc.code != errno.ENODEV:  # ENODEV: gone meanwhile (its peer went)
                        log.warning("could not remove link %s (%s): %s", name, alias, exc)
                        continue
            removed.append(f"link {name} ({alias})")
            log.info("%s link %s (%s)", "would remove" if dry_run else "removed", name, alias)
    return removed


_SSH_DIR = re.compile(re.escape(SSH_DIR_PREFIX) + r"(\d+)-\w+")


def clean_ssh_dirs(dry_run: bool = False, tmp: str | None = None) -> list[str]:
    """Socket directories of ssh:// bridges whose process is gone (a worker killed at its
    deadline never closes its bridge). A live pid keeps its directory, reused or not."""
    root = Path(tmp or tempfile.gettempdir())
    removed: list[str] = []
    for entry in sorted(root.glob(f"{SSH_DIR_PREFIX}*")):
        match = _SSH_DIR.fullmatch(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        if Path(f"/proc/{match.group(1)}").exists():
            continue
        if not dry_run:
            shutil.rmtree(entry, ignore_errors=True)
        removed.append(str(entry))
        log.info("%s %s", "would remove" if dry_run else "removed", entry)
    return removed


# The drop-reason recorder's trace instance and, when no tracefs was mounted, its private
# mount point (netcheck.diagnose.tracefs). A killed run leaves both; the instance keeps
# tracing (CPU, a 2 MB buffer) until removed.
_INSTANCE = re.compile(re.escape(TRACE_PREFIX) + r"([0-9a-f]{6})")
_PRIVATE_MOUNT = re.compile(re.escape(TRACE_PREFIX) + r"([0-9a-f]{6})-tracefs-\w+")
_TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def _tracefs_mounts() -> list[str]:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as fh:
            rows = [line.split() for line in fh]
    except OSError:
        return []
    return [r[1] for r in rows if len(r) > 2 and r[2] == "tracefs"]


@contextlib.contextmanager
def _tracefs_root() -> Iterator[str | None]:
    """A tracefs tree to look in: a mounted one not owned by a run, else a private mount."""
    for root in (*_TRACEFS, *_tracefs_mounts()):
        if _PRIVATE_MOUNT.fullmatch(os.path.basename(root)) is None and os.path.isdir(
            os.path.join(root, "instances")
        ):
            yield root
            return
    libc = ctypes.CDLL(None, use_errno=True)
    where = tempfile.mkdtemp(prefix="netcheck-clean-")
    try:
        if libc.mount(b"nodev", where.encode(), b"tracefs", 0, None) != 0:
            log.debug("cannot mount tracefs: %s", os.strerror(ctypes.get_errno()))
            yield None
            return
        try:
            yield where
        finally:
            libc.umount2(where.encode(), 2)  # MNT_DETACH
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(where)


def _dead(run_id: str, runs: Collection[str] | None, state_dir: str) -> bool:
    if runs is not None and run_id not in runs:
        return False
    st = state.read(run_id, state_dir)
    return st is None or not state.is_alive(st)


def clean_tracefs(
    dry_run: bool = False, *, runs: Collection[str] | None = None,
    state_dir: str = state.STATE_DIR,
) -> list[str]:
    """Remove dead runs' trace instances `netcheck-<runid>` and private tracefs mounts."""
    removed: list[str] = []
    for point in _tracefs_mounts():
        m = _PRIVATE_MOUNT.fullmatch(os.path.basename(point))
        if m is None or not _dead(m.group(1), runs, state_dir):
            continue
        removed.append(f"tracefs mount {point}")
        if not dry_run:
            ctypes.CDLL(None, use_errno=True).umount2(point.encode(), 2)
            with contextlib.suppress(OSError):
                os.rmdir(point)
    with _tracefs_root() as root:
        if root is None:
            return removed
        base = os.path.join(root, "instances")
        for name in sorted(os.listdir(base)):
            m = _INSTANCE.fullmatch(name)
            if m is None or not is_run_id(m.group(1)) or not _dead(m.group(1), runs, state_dir):
                continue
            if not dry_run:
                inst = os.path.join(base, name)
                for event in (("skb", "kfree_skb"), ("net", "netif_receive_skb")):
                    with (
                        contextlib.suppress(OSError),
                        open(os.path.join(inst, "events", *event, "enable"), "w") as fh,
                    ):
                        fh.write("0")
                try:
                    os.rmdir(inst)
                except OSError as exc:
                    log.warning("could not remove trace instance %s: %s", inst, exc)
                    continue
            removed.append(f"trace instance {name}")
            log.info("%s trace instance %s", "would remove" if dry_run else "removed", name)
    return removed
