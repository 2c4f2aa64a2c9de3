"""The VM batch as the suite runs it: one boot, the 7 full-kernel scenarios, where the time goes.

    flock -o /tmp/netcheck-lab.lock .venv/bin/python benchmarks/vm_batch.py [--profile]

Runs the command tests/vm/conftest.py runs (`netcheck vm run --reports DIR --timeout S
SCENARIO... -- --timeout 3`, same scenarios, same order) and prints, from what the guest
wrote: boot (kernel and virtme-ng's init), the guest program's start (interpreter and
imports), the probe worker warm-up, the guest dockerd beside it, each scenario with the
engine's phases and the rest of its job, the host's share and power-off, the total; the
machine's load average (1 min) before, during (sampled) and after. `--profile` also samples
the guest's Python stacks (vm-profile.txt) and prints the functions that held the most wall
clock. Target (issue 13): the whole batch <= 300 s on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netcheck.vm.batch import (  # noqa: E402
    HOST_TIMING_NAME,
    PROFILE_NAME,
    read_results,
    record_phases,
)
from tests.vm.conftest import VM_SCENARIOS  # noqa: E402


class LoadWatch:
    """The 1-minute load average every few seconds while the batch runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.seen: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.seen.append(os.getloadavg()[0])

    def __enter__(self) -> LoadWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def profile_summary(path: Path, top: int) -> tuple[list[tuple[str, float]],
                                                  list[tuple[str, float]]]:
    """Wall clock per function of the guest's main thread, from the folded stacks:
    inclusive (it or what it called was running), and as the innermost frame."""
    interval = 0.1
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            for word in line[1:].split():
                if word.startswith("interval_s="):
                    interval = float(word.split("=", 1)[1])
            continue
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if frames[0] != "MainThread":
            continue
        for name in dict.fromkeys(frames[1:]):
            inclusive[name] += int(n)
        leaf[frames[-1]] += int(n)
    return ([(name, n * interval) for name, n in inclusive.most_common(top)],
            [(name, n * interval) for name, n in leaf.most_common(top // 2)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", default=str(ROOT / "reports" / "vm-bench"))
    ap.add_argument("--limit", type=float, default=900.0, help="netcheck vm run --timeout")
    ap.add_argument("--profile", action="store_true", help="sample the guest's stacks")
    ap.add_argument("--no-cached-root", action="store_true",
                    help="the guest's Python from virtme-ng's plain 9p root (netcheck vm run's)")
    ap.add_argument("--top", type=int, default=40, help="functions listed with --profile")
    ap.add_argument("--read", action="store_true",
                    help="only summarize a batch already in --reports (e.g. reports/vm-batch "
                         "after tests/vm ran it); load then is the current one")
    args = ap.parse_args(argv)
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    if args.read:
        return summarize(reports, None, [os.getloadavg()[0]], args.profile, args.top)
    cmd = [
        sys.executable, "-m", "netcheck", "vm", "run", "--reports", str(reports),
        "--timeout", f"{args.limit:g}", "--quiet-console",
        *(["--profile"] if args.profile else []),
        *(["--no-cached-root"] if args.no_cached_root else []),
        *(str(p) for p in VM_SCENARIOS), "--", "--timeout", "3",
    ]
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with LoadWatch() as load:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    seen = [load_before, *load.seen, os.getloadavg()[0]]
    code = summarize(reports, wall, seen, args.profile, args.top)
    return code if code else (0 if proc.returncode in (0, 1) else proc.returncode)


def summarize(reports: Path, wall: float | None, load: list[float], profiled: bool,
              top_n: int) -> int:
    """Print the table of a batch in `reports` (and vm-bench.json beside it)."""
    results = read_results(reports / "vm-results.json")
    if results is None:
        print(f"no results: the guest never started; console log: {reports / 'vm-console.log'}")
        return 1
    try:
        host = json.loads((reports / HOST_TIMING_NAME).read_text())
    except (OSError, ValueError):
        host = {}
    before_kernel = float(host.get("kernel_at_s") or 0.0)
    if wall is None:
        wall = float(host.get("elapsed_s") or 0.0)
    rows: list[tuple[str, float, str]] = [
        ("until the kernel's first line", before_kernel, f"accel {host.get('accel', '?')}"),
        ("boot (kernel, virtme-ng init)", results.uptime_at_exec_s, ""),
        ("guest program start (imports)",
         results.uptime_at_start_s - results.uptime_at_exec_s, ""),
        ("probe worker warm-up", results.warmup_s,
         f"of it {results.preimport_s:.1f} s importing the run's modules beside it"),
    ]
    if results.docker_ready_s is not None:
        rows.append(("  guest dockerd (beside it)", results.docker_ready_s,
                     f"image {results.docker_image_s or 0:.1f} s"))
    if results.results:
        rows.append(("until the first scenario",
                     results.results[0].started_s - results.uptime_at_start_s, ""))
    for res in results.results:
        phases = record_phases(res)
        other = res.duration_s - sum(phases.values())
        detail = ", ".join(f"{k} {v:.1f}" for k, v in phases.items() if v >= 0.05)
        rows.append((f"  {Path(res.scenario).stem} (exit {res.exit_code})", res.duration_s,
                     f"{detail}, other {other:.1f}"))
    rows.append(("scenarios", sum(r.duration_s for r in results.results), ""))
    if results.uptime_at_end_s and wall:
        rows.append(("power-off and exit", wall - before_kernel - results.uptime_at_end_s, ""))
    rows.append(("total (wall clock)", wall, ""))
    print(f"\nVM batch, {len(results.results)} scenarios, kernel {results.kernel}; load (1 min) "
          f"first {load[0]:.2f}, min {min(load):.2f}, max {max(load):.2f}, "
          f"mean {sum(load) / len(load):.2f}, last {load[-1]:.2f}")
    for name, secs, detail in rows:
        print(f"{name:<38} {secs:7.1f} s  {detail}")
    summary: dict[str, object] = {
        "wall_s": round(wall, 1), "load": load,
        "rows": [{"name": n.strip(), "s": round(s, 2), "detail": d} for n, s, d in rows],
    }
    profile = reports / PROFILE_NAME
    if profiled and profile.exists():
        top, leaf = profile_summary(profile, top_n)
        print("\nguest main thread, inclusive wall clock (sampled):")
        for name, secs in top:
            print(f"{secs:7.1f} s  {name}")
        print("\nguest main thread, innermost frame:")
        for name, secs in leaf:
            print(f"{secs:7.1f} s  {name}")
        summary["profile_top"] = [{"function": n, "s": round(s, 1)} for n, s in top]
        summary["profile_leaf"] = [{"function": n, "s": round(s, 1)} for n, s in leaf]
    (reports / "vm-bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
