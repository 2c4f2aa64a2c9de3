"""The contract between the host and the guest of one VM boot: a manifest in, results out.

Both files live in the reports folder, which the guest mounts read-write, so the guest needs
no channel back but the filesystem. The guest rewrites the results file after every
scenario: a batch cut short by a timeout still tells how far it got.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from netcheck.errors import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from netcheck.vm.guestdocker import GuestNotes, notes_from_dict

MANIFEST_NAME = "vm-manifest.json"
RESULTS_NAME = "vm-results.json"
CONSOLE_NAME = "vm-console.log"
PROFILE_NAME = "vm-profile.txt"
HOST_TIMING_NAME = "vm-host.json"

# netcheck run options the runner sets per scenario; the user cannot pass one path for many.
RESERVED_RUN_OPTIONS = frozenset({"--json", "--junit", "--no-reports"})

# Worst first. Anything not listed (a crash, a signal) counts as an environment problem.
_SEVERITY = {EXIT_ENVIRONMENT: 3, EXIT_USAGE: 2, EXIT_FAILED: 1, EXIT_OK: 0}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioJob:
    scenario: str  # absolute path, as the guest sees it (the same as the host's)
    json: str
    junit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    jobs: tuple[ScenarioJob, ...]
    run_args: tuple[str, ...]  # extra `netcheck run` options, the same for every scenario
    results: str  # where the guest writes the results file
    profile: str | None = None  # where the guest writes its sampled stacks (--profile)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioResult:
    scenario: str
    exit_code: int
    duration_s: float
    json: str
    junit: str
    error: str | None = None  # why a scenario could not run at all
    guest: GuestNotes | None = None  # what the guest saw around it (Docker scenarios)
    started_s: float = 0.0  # guest uptime when it started: the batch's timeline


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResults:
    kernel: str  # the guest's `uname -r`
    uptime_at_start_s: float  # guest uptime when the driver started: boot-to-userspace time
    results: tuple[ScenarioResult, ...]
    finished: bool  # every job ran (the driver reached its end)
    # Starting the probe forkserver (scapy imports) and, beside it, importing what the
    # scenarios need in the guest's own process (preimport_s of it), before the first job.
    warmup_s: float = 0.0
    preimport_s: float = 0.0
    docker_ready_s: float | None = None  # the guest's own dockerd, when a scenario needed it
    docker_image_s: float | None = None  # loading netcheck's busybox image into it
    docker_error: str | None = None  # why the guest's dockerd could not be had
    # Guest uptimes: the guest program's exec (the kernel and virtme-ng's init before it),
    # and the end of its last job. With uptime_at_start_s, where a batch's time went.
    uptime_at_exec_s: float = 0.0
    uptime_at_end_s: float = 0.0


def normalize_code(code: int) -> int:
    return code if code in _SEVERITY else EXIT_ENVIRONMENT


def worst_exit_code(codes: Iterable[int]) -> int:
    """3 (environment) > 2 (usage/scenario) > 1 (an expectation failed) > 0."""
    worst = EXIT_OK
    for code in codes:
        code = normalize_code(code)
        if _SEVERITY[code] > _SEVERITY[worst]:
            worst = code
    return worst


def check_run_args(run_args: Sequence[str]) -> tuple[str, ...]:
    for arg in run_args:
        name = arg.split("=", 1)[0]
        if name in RESERVED_RUN_OPTIONS:
            raise UsageError(
                f"{name}: `netcheck vm run` writes one JSON and one JUnit report per scenario "
                "itself; choose the folder with --reports instead"
            )
    return tuple(run_args)


def report_stems(scenarios: Sequence[Path]) -> list[str]:
    """One unique, file-name-safe stem per scenario (`a.yaml`, `x/a.yaml` -> a, a-2)."""
    seen: dict[str, int] = {}
    stems = []
    for path in scenarios:
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem) or "scenario"
        n = seen.get(base, 0) + 1
        seen[base] = n
        stems.append(base if n == 1 else f"{base}-{n}")
    return stems


def make_manifest(
    scenarios: Sequence[Path], reports: Path, run_args: Sequence[str], *, profile: bool = False
) -> Manifest:
    jobs = tuple(
        ScenarioJob(
            scenario=str(path),
            json=str(reports / f"{stem}.json"),
            junit=str(reports / f"{stem}.junit.xml"),
        )
        for path, stem in zip(scenarios, report_stems(scenarios), strict=True)
    )
    return Manifest(
        jobs=jobs, run_args=check_run_args(run_args), results=str(reports / RESULTS_NAME),
        profile=str(reports / PROFILE_NAME) if profile else None,
    )


def _write_json(path: Path, data: object) -> None:
    # Write-then-rename: the host never reads half a file, even after a kill mid-write.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_manifest(manifest: Manifest, path: Path) -> None:
    _write_json(path, asdict(manifest))


def read_manifest(path: Path) -> Manifest:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Manifest(
        jobs=tuple(ScenarioJob(**job) for job in data["jobs"]),
        run_args=tuple(data["run_args"]),
        results=data["results"],
        profile=data.get("profile"),
    )


def write_results(results: BatchResults, path: Path) -> None:
    _write_json(path, asdict(results))


def read_results(path: Path) -> BatchResults | None:
    """The guest's results, or None when it never wrote them (no boot, or a crash first)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return BatchResults(
        kernel=data["kernel"],
        uptime_at_start_s=float(data["uptime_at_start_s"]),
        results=tuple(_scenario_result(r) for r in data["results"]),
        finished=bool(data["finished"]),
        warmup_s=float(data.get("warmup_s", 0.0)),
        preimport_s=float(data.get("preimport_s", 0.0)),
        docker_ready_s=data.get("docker_ready_s"),
        docker_image_s=data.get("docker_image_s"),
        docker_error=data.get("docker_error"),
        uptime_at_exec_s=float(data.get("uptime_at_exec_s", 0.0)),
        uptime_at_end_s=float(data.get("uptime_at_end_s", 0.0)),
    )


def _scenario_result(data: dict[str, Any]) -> ScenarioResult:
    guest = data.get("guest")
    return ScenarioResult(
        **{k: v for k, v in data.items() if k != "guest"},
        guest=notes_from_dict(guest) if isinstance(guest, dict) else None,
    )


def record_phases(result: ScenarioResult) -> dict[str, float]:
    """The engine's phases of one scenario, from its JSON report ({} when there is none)."""
    try:
        data = json.loads(Path(result.json).read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in data["phase_s"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def scenario_timing(result: ScenarioResult) -> str:
    """`build 2.9, probe 5.4, diagnose 9.6, other 17.3`: the record's phases and the rest
    of the job (reading the scenario, imports the first job pays, writing reports)."""
    phases = record_phases(result)
    shown = [f"{name} {secs:.1f}" for name, secs in phases.items() if secs >= 0.05]
    other = result.duration_s - sum(phases.values())
    return ", ".join([*shown, f"other {other:.1f}"])


def batch_timing(
    results: BatchResults, elapsed_s: float, kernel_at_s: float | None = None
) -> str:
    """Where a boot's wall clock went, from the guest's uptimes (one line)."""
    parts = []
    if kernel_at_s is not None:
        parts.append(f"until the kernel's first line {kernel_at_s:.1f} s")
    if results.uptime_at_exec_s:
        parts.append(f"boot {results.uptime_at_exec_s:.1f} s")
        parts.append(
            f"guest start {results.uptime_at_start_s - results.uptime_at_exec_s:.1f} s"
        )
    else:
        parts.append(f"boot {results.uptime_at_start_s:.1f} s")
    parts.append(f"warm-up {results.warmup_s:.1f} s (imports {results.preimport_s:.1f} s of it)")
    if results.docker_ready_s is not None:
        image = results.docker_image_s or 0.0
        parts.append(f"dockerd {results.docker_ready_s:.1f} s + image {image:.1f} s (beside it)")
    first = results.results[0].started_s if results.results else 0.0
    if first and results.warmup_s:
        parts.append(f"waiting before the first scenario {first - results.uptime_at_start_s:.1f} s")
    parts.append(f"scenarios {sum(r.duration_s for r in results.results):.1f} s")
    if results.uptime_at_end_s:
        before = kernel_at_s or 0.0
        parts.append(f"power-off {elapsed_s - before - results.uptime_at_end_s:.1f} s")
    return ", ".join(parts) + f"; {elapsed_s:.1f} s in all"
