"""A registry of live runs: /run/netcheck/<runid>.json, so `netcheck clean` can tell a
killed run's leftovers from a run still in progress.

A run is alive while its process is: the pid *and* that process's start time (from
/proc/<pid>/stat) must match, so a recycled pid does not keep a dead run's namespaces alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from netcheck.runtime.naming import check_run_id, is_run_id

STATE_DIR = "/run/netcheck"
# A file every run appends its id to when it registers, when this names one: a CI job or a
# test harness that shares the machine with other netcheck runs checks the leftovers of its
# own runs only (tests/conftest.py sets it for the suite).
JOURNAL_ENV = "NETCHECK_RUN_JOURNAL"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunState:
    run_id: str
    pid: int
    pid_start: int | None  # /proc/<pid>/stat starttime, clock ticks since boot
    started: str  # ISO 8601, UTC
    runtime: str
    netns: tuple[str, ...]  # namespace names (not paths) the run creates

    def to_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "started": self.started,
            "runtime": self.runtime,
            "netns": list(self.netns),
        }


def process_start(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot, None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


def for_this_process(run_id: str, runtime: str, netns: tuple[str, ...]) -> RunState:
    pid = os.getpid()
    return RunState(
        run_id=check_run_id(run_id),
        pid=pid,
        pid_start=process_start(pid),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        runtime=runtime,
        netns=netns,
    )


def state_path(run_id: str, state_dir: str = STATE_DIR) -> Path:
    return Path(state_dir) / f"{check_run_id(run_id)}.json"


def write(state: RunState, state_dir: str = STATE_DIR) -> Path:
    """Write atomically, mode 0600 (it names what to delete)."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    path = state_path(state.run_id, state_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state.to_json(), fh, indent=1)
    os.replace(tmp, path)
    _journal(state.run_id)
    return path


def _journal(run_id: str) -> None:
    journal = os.environ.get(JOURNAL_ENV)
    if not journal:
        return
    # One short O_APPEND write per line: concurrent runs never interleave within a line.
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, f"{run_id}\n".encode())
    finally:
        os.close(fd)


def journal_runs() -> frozenset[str]:
    """The run ids in the journal `NETCHECK_RUN_JOURNAL` names; empty when it names none."""
    journal = os.environ.get(JOURNAL_ENV)
    if not journal:
        return frozenset()
    try:
        text = Path(journal).read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return frozenset()
    return frozenset(line for line in text.split() if is_run_id(line))


def read(run_id: str, state_dir: str = STATE_DIR) -> RunState | None:
    """The run's state, None if there is no (readable, well-formed) state file."""
    try:
        raw = json.loads(state_path(run_id, state_dir).read_text(encoding="utf-8"))
        pid_start = raw.get("pid_start")
        return RunState(
            run_id=run_id,
            pid=int(raw["pid"]),
            pid_start=int(pid_start) if pid_start is not None else None,
            started=str(raw.get("started", "")),
            runtime=str(raw.get("runtime", "")),
            netns=tuple(str(n) for n in raw.get("netns", ())),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remove(run_id: str, state_dir: str = STATE_DIR) -> bool:
    try:
        state_path(run_id, state_dir).unlink()
    except FileNotFoundError:
        return False
    return True


def run_ids(state_dir: str = STATE_DIR) -> list[str]:
    """Run ids that have a state file."""
    with contextlib.suppress(FileNotFoundError):
        return sorted(
            p.stem for p in Path(state_dir).iterdir() if p.suffix == ".json" and is_run_id(p.stem)
        )
    return []


def is_alive(state: RunState) -> bool:
    """The run's process still exists (same pid, same start time).

    Without a recorded start time the pid alone proves nothing (pids are reused, and pid 1
    never dies): netcheck always records it, so such a file is not a live run's.
    """
    if state.pid_start is None:
        return False
    return process_start(state.pid) == state.pid_start
