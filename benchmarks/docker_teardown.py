"""Tearing down a multi-host Docker lab: the old teardown (every lab dockerd's graceful
shutdown) against the current one (idle daemons killed at once), in the same process.

    flock -o /tmp/netcheck-lab.lock .venv/bin/python benchmarks/docker_teardown.py \
        [--hosts 4] [--per-host 2] [--rounds 3]

Each round runs the same scenario file twice through the engine, as `netcheck run` does
(load_plan -> run_plan, docker runtime): N lab hosts, a macvlan slice per host plus one
swarm overlay, M containers per host on both, a full icmp mesh. One line per run and
strategy: the engine's phases, and teardown split into removing the containers, stopping
the lab daemons and the netns underlay. Every run is checked to leave nothing of its own
behind (namespaces, daemon folders, processes naming the run's folders). The last line is
the median teardown of each strategy and their ratio (target: current <= 1.5 s at 4 hosts).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from multihost import matrix

from netcheck.engine.run import RunOptions, run_plan
from netcheck.runtime.docker import teardown as steps
from netcheck.runtime.docker.daemon import DATA_DIR, RUN_DIR, LabDaemon
from netcheck.runtime.docker.dockerd import pids_mentioning
from netcheck.runtime.docker.handles import parallel
from netcheck.runtime.docker.runtime import DockerRuntime
from netcheck.scenario import load_plan


def graceful_stop(labs: Sequence[LabDaemon], idle: set[str]) -> None:
    """The teardown before this benchmark existed: each daemon's own shutdown, all at once."""
    del idle
    with contextlib.suppress(Exception):
        parallel(lambda lab: lab.stop(), labs)


@contextlib.contextmanager
def strategy(name: str) -> Iterator[None]:
    saved = steps.stop_lab_daemons
    if name == "old":
        steps.stop_lab_daemons = graceful_stop
    try:
        yield
    finally:
        steps.stop_lab_daemons = saved


_timings: dict[str, float] = {}
_teardown = DockerRuntime.teardown


def _timed_teardown(self: DockerRuntime) -> None:
    started = time.monotonic()
    _teardown(self)
    _timings.clear()
    _timings.update(self.timings)
    _timings["total"] = time.monotonic() - started


def leftovers(run_id: str) -> list[str]:
    left = [str(p) for p in (RUN_DIR / run_id, DATA_DIR / run_id) if p.exists()]
    left += [f"netns {n.name}" for n in Path("/run/netns").glob(f"nc-{run_id}-*")]
    left += [f"pid {p}" for p in pids_mentioning(str(RUN_DIR / run_id))]
    return left


def one_run(path: Path, name: str) -> dict[str, object]:
    plan = load_plan(path)
    started = time.monotonic()
    with strategy(name):
        record = run_plan(plan, RunOptions(runtime="docker"))
    total = time.monotonic() - started
    counts = {k.value: v for k, v in record.counts().items() if v}
    split = {k: round(_timings.get(k, 0.0), 2) for k in ("containers_down", "daemons_down")}
    split["underlay_and_rest"] = round(
        _timings.get("total", 0.0) - split["containers_down"] - split["daemons_down"], 2
    )
    return {
        "strategy": name,
        "total_s": round(total, 2),
        "phases": {k: round(v, 2) for k, v in record.phase_s.items()},
        "teardown_split": split,
        "outcomes": counts,
        "left_behind": leftovers(record.run_id),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    DockerRuntime.teardown = _timed_teardown  # type: ignore[method-assign]
    downs: dict[str, list[float]] = {"old": [], "current": []}
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "multihost-matrix.yaml"
        path.write_text(matrix(args.hosts, args.per_host))
        for _ in range(args.rounds):
            for name in ("old", "current"):
                got = one_run(path, name)
                print(json.dumps(got), flush=True)
                downs[name].append(float(got["phases"]["teardown"]))  # type: ignore[index]
                failed |= bool(got["left_behind"]) or set(got["outcomes"]) != {"pass"}  # type: ignore[arg-type]
    old, new = statistics.median(downs["old"]), statistics.median(downs["current"])
    print(json.dumps({
        "hosts": args.hosts, "containers": args.hosts * args.per_host, "rounds": args.rounds,
        "teardown_median_s": {"old": round(old, 2), "current": round(new, 2)},
        "ratio_old_over_current": round(old / new, 2),
    }))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
