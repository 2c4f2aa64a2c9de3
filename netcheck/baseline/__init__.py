"""Post-change validation: save a run as a baseline, diff a later run (and the host) against it."""

from __future__ import annotations

from netcheck.baseline.diff import (
    FindingChange,
    HostChange,
    PathChange,
    RunDiff,
    diff_lines,
    diff_records,
    diff_snapshots,
)
from netcheck.baseline.snapshot import (
    HostSnapshot,
    NetnsSnapshot,
    snapshot_topology,
    take_snapshot,
)
from netcheck.baseline.store import (
    Baseline,
    BaselineError,
    load_baseline,
    save_baseline,
    with_diff,
)

__all__ = [
    "Baseline",
    "BaselineError",
    "FindingChange",
    "HostChange",
    "HostSnapshot",
    "NetnsSnapshot",
    "PathChange",
    "RunDiff",
    "diff_lines",
    "diff_records",
    "diff_snapshots",
    "load_baseline",
    "save_baseline",
    "snapshot_topology",
    "take_snapshot",
    "with_diff",
]
