"""Bounds of the run options a user gives (pure, cheap to import: the CLI's parser uses it)."""

from __future__ import annotations

import math

# A probe waits this long for an answer. Below the floor a loaded machine answers too late
# to be told from silence; above the ceiling a run of many expectations never ends. Not a
# finite number (inf, nan) would reach the workers' select() and crash every one of them.
TIMEOUT_MIN_S = 0.05
TIMEOUT_MAX_S = 120.0


def timeout_problem(value: float) -> str | None:
    """Why `value` is no probe timeout, or None when it is one."""
    if not math.isfinite(value) or not TIMEOUT_MIN_S <= value <= TIMEOUT_MAX_S:
        return f"give between {TIMEOUT_MIN_S:g} and {TIMEOUT_MAX_S:g} seconds"
    return None
