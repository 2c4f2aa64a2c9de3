"""Running netcheck from the reliability tests: in-process (run_plan) and as the real CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.plan import Plan
from netcheck.model.results import RunRecord
from netcheck.runtime.naming import new_run_id
from netcheck.scenario import load_plan
from tests.helpers import ROOT

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def quickstart() -> Plan:
    return load_plan(QUICKSTART)


def failing_quickstart() -> Plan:
    """The quickstart with its macvlan-isolation expectation turned around: it must fail."""
    plan = quickstart()
    flipped = tuple(
        dataclasses.replace(e, reachable=True) if not e.reachable else e
        for e in plan.expectations
    )
    return dataclasses.replace(plan, expectations=flipped)


def run(plan: Plan, **options: Any) -> RunRecord:
    options.setdefault("runtime", "netns")
    options.setdefault("run_id", new_run_id())
    return run_plan(plan, RunOptions(**options))


def cli(
    scenario: Path, *args: str, new_session: bool = True, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`netcheck run SCENARIO ARGS` as a child in its own session (so a group signal hits
    it and its helpers, never pytest)."""
    return subprocess.Popen(
        [sys.executable, "-m", "netcheck", "run", str(scenario), "--no-reports", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=new_session, env={**os.environ, **(env or {})},
    )


def wait_for(predicate: Any, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
