"""Helpers shared by tests (importable as tests.helpers; pytest's pythonpath has the root)."""

from __future__ import annotations

import os
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
    not leaks yet, so they are left out.
    """
    out = set()
    for name in names:
        parsed = parse_netns_name(name)
        if parsed is None:
            continue
        current = state.read(parsed[0])
        if current is None or not state.is_alive(current):
            out.add(name)
    return out
