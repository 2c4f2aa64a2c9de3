"""The guest side of `netcheck vm run`: run every scenario of the manifest in one process.

Runs inside the VM as `python -m netcheck.vm.guest MANIFEST`. One process for the whole
batch because Python is 15-20x slower under TCG: importing scapy and pyroute2 costs ~15 s,
and the probe forkserver that preloads them is started once per process, not per scenario.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from netcheck.errors import EXIT_ENVIRONMENT, EXIT_USAGE
from netcheck.vm.batch import (
    BatchResults,
    Manifest,
    ScenarioJob,
    ScenarioResult,
    normalize_code,
    read_manifest,
    worst_exit_code,
    write_results,
)

log = logging.getLogger(__name__)

RunFn = Callable[[Sequence[str]], int]


def _uptime() -> float:
    try:
        return float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _cli_main(argv: Sequence[str]) -> int:
    from netcheck.cli.main import main

    return main(argv)


def warm_probe_workers() -> float | None:
    """Start the probe forkserver and fork one worker through it: the seconds it took, or
    None when the worker did not come back cleanly.

    The forkserver imports scapy and pyroute2 before its first fork. On the host that is
    ~1 s, under TCG 15-40 s, which would count against the first scenario's probe deadline
    (probe timeout + a margin) and get its first worker killed as hung. Paid here, once.
    """
    started = time.monotonic()
    try:
        from netcheck.probes.pool import get_context, start_process

        ctx: Any = get_context()
        # A stdlib target: under `python -m netcheck.vm.guest` a function of this module
        # lives in __main__, which the forkserver's children cannot import.
        proc = ctx.Process(target=time.sleep, args=(0,), name="netcheck-vm-warmup")
        start_process(proc)
        proc.join(timeout=300)
        if proc.is_alive():
            proc.kill()
            return None
        if proc.exitcode != 0:
            return None
    except Exception:  # a failed warm-up only costs the first scenario time
        log.warning("probe worker warm-up failed:\n%s", traceback.format_exc())
        return None
    return round(time.monotonic() - started, 3)


def run_job(job: ScenarioJob, run_args: Sequence[str], run: RunFn) -> ScenarioResult:
    argv = ["run", job.scenario, *run_args, "--json", job.json, "--junit", job.junit]
    started = time.monotonic()
    error = None
    try:
        code = run(argv)
    except SystemExit as exc:  # argparse rejects a bad option with SystemExit(2)
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
        error = f"netcheck run exited: {exc.code}"
    except Exception as exc:  # one scenario's crash must not lose the rest of the batch
        code = EXIT_ENVIRONMENT
        error = f"{type(exc).__name__}: {exc}"
        log.error("%s crashed:\n%s", job.scenario, traceback.format_exc())
    return ScenarioResult(
        scenario=job.scenario,
        exit_code=normalize_code(code),
        duration_s=round(time.monotonic() - started, 3),
        json=job.json,
        junit=job.junit,
        error=error,
    )


def run_batch(manifest: Manifest, run: RunFn = _cli_main, *, warm: bool = True) -> BatchResults:
    kernel = os.uname().release
    uptime = _uptime()
    path = Path(manifest.results)
    done: list[ScenarioResult] = []
    warmup = 0.0

    def save(finished: bool) -> BatchResults:
        results = BatchResults(
            kernel=kernel, uptime_at_start_s=uptime, results=tuple(done), finished=finished,
            warmup_s=warmup,
        )
        write_results(results, path)
        return results

    # Written before anything slow: the host tells "never booted" from "too slow".
    save(False)
    if warm:
        warmup = warm_probe_workers() or 0.0
    for job in manifest.jobs:
        done.append(run_job(job, manifest.run_args, run))
        save(False)
    return save(True)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m netcheck.vm.guest MANIFEST\n")
        return EXIT_USAGE
    results = run_batch(read_manifest(Path(args[0])))
    return worst_exit_code(r.exit_code for r in results.results)


if __name__ == "__main__":
    sys.exit(main())
