"""What the kernel drop-reason recorder costs the main process in a full icmp mesh.

    sudo flock -o /tmp/netcheck-lab.lock .venv/bin/python benchmarks/drop_trace.py [N] [DEAD%]

One size of `benchmarks/mesh_run.py` (its scenario, run in this process the way `netcheck
run` does, fping from one source only), with every `DropRecorder` call timed: the time in
each method summed over the run and how often it was called (a call made inside another,
like the old `stop()`'s `close()`, counts in both), the drops each window read
and its problem (an overflowed buffer says so), beside the run's phases. Run it from two
checkouts back to back to compare them; the recorder's own calls are what changed, the
probe phase around them swings ~2x with the machine's load (printed).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import mesh_run

from netcheck.diagnose import tracefs


def _timed(spent: dict[str, float], calls: dict[str, int], name: str,
           f: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return f(*args, **kwargs)
        finally:
            spent[name] = round(spent.get(name, 0.0) + time.monotonic() - t0, 3)
            calls[name] = calls.get(name, 0) + 1
    return call


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    dead = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}
    windows: list[dict[str, Any]] = []
    rec = tracefs.DropRecorder
    # Older checkouts have start/stop only; newer ones open/begin/end (start/stop wrap them).
    for name in ("start", "stop", "open", "begin", "end", "close"):
        if hasattr(rec, name):
            setattr(rec, name, _timed(spent, calls, name, getattr(rec, name)))
    reader = "end" if hasattr(rec, "end") else "stop"
    read = getattr(rec, reader)

    def reading(self: tracefs.DropRecorder) -> list[tracefs.Drop]:
        got: list[tracefs.Drop] = read(self)
        windows.append({"drops": len(got), "problem": self.problem})
        return got

    setattr(rec, reader, reading)
    r = mesh_run.one(n, 1.0, dead, 10**6, False)
    print(json.dumps({
        "n": n, "dead": dead, "whole_s": r["whole_s"], "phase_s": r["phase_s"],
        "passed": r["passed"], "failed": r["failed"], "errors": r["errors"],
        "load": round(r["load"], 1), "recorder_s": spent, "recorder_calls": calls,
        "windows": windows,
    }))


if __name__ == "__main__":
    main()
