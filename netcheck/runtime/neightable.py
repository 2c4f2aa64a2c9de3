"""Opt-in: grow the kernel's neighbour table for one run, and give it back.

The table is shared by every namespace of the host: gc_thresh3 (1024 by default) collectable
entries in all. A paced run stays below it (probes/schedule.py), but then resolutions in
flight are bounded by the room, and a silent target holds its entry for a whole timeout:
250 endpoints of which 25 answer nothing need 6,250 unanswered resolutions, about seven
timeouts of waiting at 1024 entries. `netcheck run --grow-neigh-table` raises gc_thresh2
and gc_thresh3 to what the run's probes can hold at once, so nothing is paced and every
silent probe waits in the same timeout.

Only ever raised, never lowered. The old values are written to /run/netcheck/sysctl/
<runid>.json before the change, so `netcheck clean` restores them when the run died; the
run restores them itself at teardown, once its namespaces (and their entries) are gone. A value
someone changed meanwhile (another run, an admin) is left as it is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from netcheck.runtime import state
from netcheck.runtime.naming import check_run_id, is_run_id

log = logging.getLogger(__name__)

SYSCTL_DIR = "sysctl"  # under the run registry
_PATH = "/proc/sys/net/ipv{v}/neigh/default/{name}"
_NAMES = ("gc_thresh2", "gc_thresh3")
_STAT = {4: "arp_cache", 6: "ndisc_cache"}
# Beyond the run's own demand: the host's traffic, other labs, entries not yet collected.
HEADROOM = 1024
# The room pacing keeps free (probes/pool.NEIGH_RESERVE): a demand within it needs nothing.
FITS_RESERVE = 96


@dataclass(frozen=True, slots=True)
class Change:
    """One sysctl a run raised."""

    key: str  # e.g. net.ipv4.neigh.default.gc_thresh3
    path: str
    before: int
    after: int


def wanted(demand: Mapping[int, int], entries: Mapping[int, int],
           current: Mapping[tuple[int, str], int]) -> dict[tuple[int, str], int]:
    """The new values: room for every entry the run can hold at once, never lower (pure).

    `demand` per IP version (pool.neighbour_demand), `entries` held now, `current` values
    by (version, name). A table that holds the demand already (as pacing judges it) is
    left alone.
    """
    out: dict[tuple[int, str], int] = {}
    for version, need in demand.items():
        held = entries.get(version, 0)
        limit = current.get((version, "gc_thresh3"))
        if limit is None or need + held + FITS_RESERVE <= limit:
            continue
        target = -(-(need + held + HEADROOM) // 1024) * 1024  # a round figure in the facts
        for name in _NAMES:
            now = current.get((version, name))
            if now is not None and now < target:
                out[(version, name)] = target
    return out


def _key(version: int, name: str) -> str:
    return f"net.ipv{version}.neigh.default.{name}"


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _entries() -> dict[int, int]:
    out: dict[int, int] = {}
    for version, name in _STAT.items():
        try:
            lines = Path(f"/proc/net/stat/{name}").read_text().splitlines()
            out[version] = int(lines[1].split()[lines[0].split().index("entries")], 16)
        except (OSError, ValueError, IndexError):
            continue
    return out


def _record_path(run_id: str, state_dir: str) -> Path:
    return Path(state_dir) / SYSCTL_DIR / f"{check_run_id(run_id)}.json"


def _write_record(run_id: str, changes: list[Change], state_dir: str) -> Path:
    path = _record_path(run_id, state_dir)
    os.makedirs(path.parent, mode=0o700, exist_ok=True)
    pid = os.getpid()
    body = {
        "run_id": run_id, "pid": pid, "pid_start": state.process_start(pid),
        "changes": [{"key": c.key, "path": c.path, "before": c.before, "after": c.after}
                    for c in changes],
    }
    tmp = path.with_name(f".{path.name}.{pid}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=1)
    os.replace(tmp, path)
    return path


def _restore(changes: Collection[Change]) -> list[str]:
    """Put back what is still ours; say what was restored (or left, and why)."""
    out: list[str] = []
    # gc_thresh3 first: the kernel wants thresh2 <= thresh3 only by convention, but a
    # reader in between sees the usual order.
    for c in sorted(changes, key=lambda c: c.key, reverse=True):
        now = _read_int(c.path)
        if now != c.after:
            out.append(f"{c.key} left at {now} (changed by someone else since)")
            continue
        try:
            Path(c.path).write_text(f"{c.before}\n")
            out.append(f"{c.key} {c.after} -> {c.before}")
        except OSError as exc:
            out.append(f"{c.key} could not be restored to {c.before}: {exc}")
            log.warning("could not restore %s to %s: %s", c.key, c.before, exc)
    return out


@contextlib.contextmanager
def grown(run_id: str, demand: Mapping[int, int], facts: dict[str, str], *,
          state_dir: str = state.STATE_DIR) -> Iterator[list[Change]]:
    """Raise the thresholds for `demand` while the block runs; the change goes in `facts`."""
    current = {(v, n): value for v in demand for n in _NAMES
               if (value := _read_int(_PATH.format(v=v, name=n))) is not None}
    changes = [
        Change(_key(v, n), _PATH.format(v=v, name=n), current[(v, n)], value)
        for (v, n), value in sorted(wanted(demand, _entries(), current).items())
    ]
    if not changes:
        facts["neigh_table"] = "large enough, left as it is (" + ", ".join(
            f"{_key(v, n)}={value}" for (v, n), value in sorted(current.items())) + ")"
        yield []
        return
    record = _write_record(run_id, changes, state_dir)
    done: list[Change] = []
    try:
        for c in sorted(changes, key=lambda c: c.key, reverse=True):  # thresh3 first
            Path(c.path).write_text(f"{c.after}\n")
            done.append(c)
        facts["neigh_table"] = "raised for this run, restored at teardown: " + ", ".join(
            f"{c.key} {c.before} -> {c.after}" for c in changes)
        yield changes
    finally:
        for line in _restore(done):
            log.info("neighbour table: %s", line)
        record.unlink(missing_ok=True)


def clean_sysctls(dry_run: bool = False, *, state_dir: str = state.STATE_DIR,
                  runs: Collection[str] | None = None) -> list[str]:
    """Restore what dead runs raised; what was restored, as text."""
    out: list[str] = []
    folder = Path(state_dir) / SYSCTL_DIR
    with contextlib.suppress(FileNotFoundError):
        for path in sorted(folder.iterdir()):
            if path.suffix != ".json" or not is_run_id(path.stem):
                continue
            if runs is not None and path.stem not in runs:
                continue
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                pid_start = raw.get("pid_start")
                owner = state.RunState(
                    run_id=path.stem, pid=int(raw["pid"]),
                    pid_start=int(pid_start) if pid_start is not None else None,
                    started="", runtime="", netns=())
                changes = [Change(str(c["key"]), str(c["path"]), int(c["before"]),
                                  int(c["after"])) for c in raw["changes"]]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if state.is_alive(owner):
                continue
            if not all(c.path.startswith("/proc/sys/net/ipv") and c.path.endswith(_NAMES)
                       for c in changes):
                continue  # not a file this module writes: never follow it
            if dry_run:
                out += [f"sysctl {c.key} {c.after} -> {c.before} (run {path.stem})"
                        for c in changes]
                continue
            out += [f"sysctl {line} (run {path.stem})" for line in _restore(changes)]
            path.unlink(missing_ok=True)
    return out
