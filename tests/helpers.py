"""Helpers shared by tests (importable as tests.helpers; pytest's pythonpath has the root)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def netcheck_namespaces() -> set[str]:
    try:
        return {n for n in os.listdir("/run/netns") if n.startswith("nc-")}
    except FileNotFoundError:
        return set()
