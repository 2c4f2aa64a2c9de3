"""The guest side of `netcheck vm run`: run every scenario of the manifest in one process.

Runs inside the VM as `python -m netcheck.vm.guest MANIFEST`. One process for the whole
batch because Python is 15-20x slower under TCG: importing scapy and pyroute2 costs ~15 s,
and the probe forkserver that preloads them is started once per process, not per scenario.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import importlib
import logging
import os
import sys
import threading
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
from netcheck.vm.guestdocker import (
    READY_TIMEOUT_S,
    DockerNeed,
    GuestDockerd,
    GuestNotes,
    VlanWatch,
    add_stand_in_parents,
    prepare_image_cache,
    remove_links,
    scenario_need,
)
from netcheck.vm.sampler import StackSampler

log = logging.getLogger(__name__)

RunFn = Callable[[Sequence[str]], int]
DATA_DIR = Path("/run/netcheck-vm/lib")
CACHE_DIR = Path("/run/netcheck-vm/cache")
# Lab dockerds (each with its own containerd) under TCG: 30 s, the host's limit, ran out
# with two of them starting at once (one alone answered in ~13 s).
LAB_DOCKERD_READY_S = 240
# A step of the batch (the warm-up, one scenario) still running after this long prints every
# thread's Python stack to the console (kept as vm-console.log), and again at each further
# interval: a hang's log then says which call it was in, beside the kernel's own report.
# faulthandler's C thread needs no GIL, so it prints while a thread is stuck in a syscall.
# The slowest step of a good batch under TCG took ~55 s (the warm-up).
STALL_DUMP_S = 150.0


def _uptime() -> float:
    try:
        return float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _exec_uptime() -> float:
    """Uptime when this process started (/proc/self/stat field 22, in clock ticks since
    boot): before the interpreter and its imports, which TCG makes slow."""
    try:
        stat = Path("/proc/self/stat").read_text(encoding="ascii")
        # The command name (field 2) may hold spaces: count from after its ")".
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return round(ticks / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, ValueError, IndexError):
        return 0.0


def _cli_main(argv: Sequence[str]) -> int:
    from netcheck.cli.main import main

    return main(argv)


# What a `netcheck run` imports in this process, imported while the probe forkserver
# preloads its own modules in another process: the two overlap on the guest's 2 vCPUs
# instead of following each other (each costs tens of seconds under TCG). A name missing
# here only moves its import into the first scenario.
PREIMPORT = (
    "netcheck.cli.main", "netcheck.cli.discover", "netcheck.engine.run", "netcheck.scenario",
    "netcheck.scenario.expand", "netcheck.runtime.netns", "netcheck.runtime.docker",
    "netcheck.diagnose", "netcheck.doctor.preflight", "netcheck.reports",
    "netcheck.reports.console", "netcheck.vm.cli",
)


def start_probe_forkserver() -> None:
    """Start the probe forkserver; it preloads scapy and the worker in the background."""
    try:
        from netcheck.probes.pool import warm_up

        warm_up()
    except Exception:  # warm_probe_workers() then starts it, or says why it cannot
        log.warning("cannot start the probe forkserver early:\n%s", traceback.format_exc())


def preimport(names: Sequence[str] = PREIMPORT) -> float:
    """Import the run's modules now: the seconds it took."""
    started = time.monotonic()
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # the scenario that needs it will say what is wrong
            log.warning("preimport of %s failed:\n%s", name, traceback.format_exc())
    return round(time.monotonic() - started, 3)


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


def watch_stall(timeout: float = STALL_DUMP_S) -> None:
    """(Re)arm the stall dump for the step starting now (see STALL_DUMP_S)."""
    faulthandler.dump_traceback_later(timeout, repeat=True, file=sys.stderr)


def run_job(job: ScenarioJob, run_args: Sequence[str], run: RunFn) -> ScenarioResult:
    watch_stall()
    argv = ["run", job.scenario, *run_args, "--json", job.json, "--junit", job.junit]
    started = time.monotonic()
    started_s = _uptime()
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
        started_s=started_s,
    )


def run_docker_job(
    job: ScenarioJob, run_args: Sequence[str], run: RunFn, need: DockerNeed, docker_url: str
) -> ScenarioResult:
    """A scenario on the guest's own daemon: stand-in parents, VLAN devices watched.

    DOCKER_HOST names the daemon for this job only: with a daemon answering, `--runtime
    auto` picks Docker, which the batch's other (netns) scenarios must not get."""
    try:
        stand_ins = add_stand_in_parents(need.parents)
    except Exception:  # the scenario then fails on its parent, and says so itself
        log.warning("cannot make stand-in parents:\n%s", traceback.format_exc())
        stand_ins = ()
    watch = VlanWatch().start()
    saved = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = docker_url
    try:
        result = run_job(job, run_args, run)
    finally:
        if saved is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = saved
        devices = watch.stop()
        remove_links(stand_ins)
    notes = GuestNotes(docker=True, stand_in_parents=stand_ins, vlan_devices=devices)
    return dataclasses.replace(result, guest=notes)


class _GuestDocker:
    """The guest's Docker for the batch, when a scenario needs one: brought up in a thread
    while the probe forkserver warms up (both cost tens of seconds under TCG), stopped by
    PID at the end."""

    def __init__(self, wanted: bool) -> None:
        self.daemon: GuestDockerd | None = None
        self.ready_s: float | None = None
        self.image_s: float | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        if not wanted:
            return
        try:
            self.daemon = GuestDockerd()
            self.daemon.start()
        except Exception as exc:
            self.error = f"cannot start containerd: {type(exc).__name__}: {exc}"
            return
        self._thread = threading.Thread(target=self._bring_up, name="vm-docker", daemon=True)
        self._thread.start()

    def _bring_up(self) -> None:
        assert self.daemon is not None
        try:
            self.ready_s = self.daemon.wait_ready()
            self.image_s = self.daemon.load_image(CACHE_DIR)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("guest Docker unusable: %s", self.error)

    def ready(self) -> bool:
        """Wait for the bring-up; True when the daemon answers."""
        if self._thread is not None:
            self._thread.join()
        return self.daemon is not None and self.ready_s is not None

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=READY_TIMEOUT_S)
        if self.daemon is not None:
            self.daemon.stop()


def run_batch(
    manifest: Manifest, run: RunFn = _cli_main, *, warm: bool = True
) -> BatchResults:
    kernel = os.uname().release
    uptime = _uptime()
    exec_uptime = _exec_uptime()
    sampler = StackSampler().start() if manifest.profile else None
    path = Path(manifest.results)
    done: list[ScenarioResult] = []
    warmup = preimport_s = 0.0
    needs = {j.scenario: scenario_need(Path(j.scenario), manifest.run_args) for j in manifest.jobs}
    if any(n.docker for n in needs.values()):
        # Lab daemons keep their data under here: on a tmpfs, as overlay2 cannot sit on
        # the overlay virtme-ng lays over /var. Read at import: set before any import of it.
        os.environ.setdefault("NETCHECK_DATA_DIR", str(DATA_DIR))
        os.environ.setdefault("NETCHECK_CACHE_DIR", str(CACHE_DIR))
        os.environ.setdefault("NETCHECK_DOCKERD_READY_S", str(LAB_DOCKERD_READY_S))
    docker = _GuestDocker(any(n.real_host for n in needs.values()))

    def save(finished: bool) -> BatchResults:
        results = BatchResults(
            kernel=kernel, uptime_at_start_s=uptime, results=tuple(done), finished=finished,
            warmup_s=warmup, docker_ready_s=docker.ready_s, docker_image_s=docker.image_s,
            docker_error=docker.error, uptime_at_exec_s=exec_uptime, preimport_s=preimport_s,
            uptime_at_end_s=_uptime() if finished else 0.0,
        )
        write_results(results, path)
        return results

    try:
        # Written before anything slow: the host tells "never booted" from "too slow".
        save(False)
        if warm:
            watch_stall()
            started = time.monotonic()
            start_probe_forkserver()
            preimport_s = preimport()
            # The first fork through the forkserver waits for the rest of its preload.
            if warm_probe_workers() is not None:
                warmup = round(time.monotonic() - started, 3)
            save(False)  # a batch that hangs in its first scenario still tells this
        image_cache = False
        for job in manifest.jobs:
            need = needs[job.scenario]
            if need.docker and not image_cache:
                # Lab daemons import the image themselves, from this cache (made once).
                image_cache = True
                try:
                    prepare_image_cache(CACHE_DIR)
                except Exception:
                    log.warning("cannot make the image rootfs:\n%s", traceback.format_exc())
            # The guest's dockerd came up beside the scenarios before this one: waited for
            # only now, by the first scenario that needs it.
            if need.real_host and docker.ready() and docker.daemon is not None:
                done.append(run_docker_job(job, manifest.run_args, run, need, docker.daemon.url))
            else:
                done.append(run_job(job, manifest.run_args, run))
            save(False)
    finally:
        faulthandler.cancel_dump_traceback_later()
        docker.stop()
        if sampler is not None and manifest.profile:
            sampler.stop()
            sampler.write(Path(manifest.profile))
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
