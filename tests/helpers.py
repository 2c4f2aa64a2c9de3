"""Helpers shared by tests (importable as tests.helpers; pytest's pythonpath has the root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from netcheck.runtime import state
from netcheck.runtime.naming import parse_netns_name

ROOT = Path(__file__).resolve().parent.parent


def netcheck_namespaces() -> set[str]:
    try:
        return {n for n in os.listdir("/run/netns") if n.startswith("nc-")}
    except FileNotFoundError:
        return set()


def dead_run_namespaces(names: set[str]) -> set[str]:
    """Those of `names` whose run is over: what a finished run left is a leak.

    Runs still alive (another test or a developer running netcheck at the same time) are
    not leaks yet, so they are left out; so are runs this test session did not start (the
    suite journals its runs: tests/conftest.py).
    """
    ours = state.journal_runs() if os.environ.get(state.JOURNAL_ENV) else None
    out = set()
    for name in names:
        parsed = parse_netns_name(name)
        if parsed is None:
            continue
        if ours is not None and parsed[0] not in ours:
            continue
        current = state.read(parsed[0])
        if current is None or not state.is_alive(current):
            out.add(name)
    return out


def netcheck(
    *args: str, cwd: Path = ROOT, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python -m netcheck ARGS` as a real child process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False,
    )


def run_id_of(pid: int) -> str | None:
    """The run id the process `pid` registered (None until its state file exists)."""
    for run_id in state.run_ids():
        st = state.read(run_id)
        if st is not None and st.pid == pid:
            return run_id
    return None
