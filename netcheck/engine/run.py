"""The engine: build, listen, probe, diagnose, judge, tear down; emits typed events.

The CLI and the pytest plugin both drive this one function, so they cannot disagree.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import netcheck
from netcheck.engine import events as ev
from netcheck.engine.judge import judge, not_tested
from netcheck.engine.limits import timeout_problem
from netcheck.engine.plan_tasks import (
    build_tasks,
    listen_tasks,
    listener_targets,
    select,
    without_listener,
)
from netcheck.errors import EnvironmentProblem, UsageError
from netcheck.model.plan import Expectation, Plan
from netcheck.model.results import Environment, ProbeResult, RunRecord, Topology, Verdict
from netcheck.runtime.base import BuildResult, Runtime, RuntimeOptions, registered
from netcheck.runtime.naming import new_run_id
from netcheck.sigmask import Interrupted as Interrupted
from netcheck.sigmask import signals_deferred, sigterm_raises

log = logging.getLogger(__name__)

# Importing a runtime module registers it; docker's is optional (its SDK may be absent).
_RUNTIME_MODULES = ("netcheck.runtime.netns", "netcheck.runtime.docker")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    runtime: str = "auto"  # netns | docker | auto
    timeout: float = 1.0
    only: tuple[str, ...] = ()
    docker_host: str | None = None
    allow_uplink: bool = False
    image: str | None = None
    run_id: str = field(default_factory=new_run_id)
    # Called with the topology after probing, before teardown (the pytest fixture uses it).
    inspect: Callable[[Topology], None] | None = None
    # Called with the topology right after the build, before listeners start: fault tests
    # use it to break the lab (kill a container, delete a link) under a running engine.
    after_build: Callable[[Topology], None] | None = None
    # Raise the kernel's neighbour-table thresholds while probing (runtime/neightable.py).
    grow_neigh_table: bool = False


def load_runtimes() -> None:
    for mod in _RUNTIME_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            log.debug("runtime %s not available: %s", mod, exc)


def choose_runtime(name: str, plan: Plan, docker_host: str | None) -> str:
    load_runtimes()
    available = registered()
    auto = name == "auto" and plan.runtime in (None, "auto")
    if name == "auto":
        name = plan.runtime if plan.runtime and plan.runtime != "auto" else "auto"
    if name == "auto":
        name = "netns"
        if "docker" in available:
            from netcheck.runtime.docker import docker_available

            if docker_available(docker_host):
                name = "docker"
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        raise UsageError(f"--runtime {name}: not a runtime. Choose one of: {known}, auto")
    adopted = plan.adopted()
    if adopted and auto and "docker" in available and any(
        h.docker_url for h in plan.lab.hosts
    ):
        name = "docker"  # what it adopts is on the daemons the scenario names
    if adopted and name != "docker":
        # Existing Docker networks and containers live on a Docker daemon: the netns runtime
        # builds its own lab and has nothing to attach to.
        if auto:
            raise EnvironmentProblem(
                f"{plan.source}: uses {', '.join(adopted)}, which exist on a Docker daemon, "
                "and no Docker daemon answers here. Set DOCKER_HOST or --docker-host, or "
                "name the host's daemon in lab.hosts.<host>.docker"
            )
        raise UsageError(
            f"{plan.source}: --runtime {name} cannot use {', '.join(adopted)}: they exist "
            "on a Docker daemon. Use --runtime docker"
        )
    return name


def _environment(topology: Topology | None) -> Environment:
    return Environment(
        kernel=platform.release(),
        hostname=platform.node(),
        netcheck_version=netcheck.__version__,
        python=platform.python_version(),
        docker=topology.docker if topology is not None else None,
    )


def _facts(env: Environment) -> dict[str, str]:
    """The environment again as display text, for the reports' list of facts."""
    return {
        "kernel": env.kernel,
        "hostname": env.hostname,
        "netcheck_version": env.netcheck_version,
        "python": env.python,
    }


def run_plan(
    plan: Plan, options: RunOptions, listener: ev.Listener | None = None
) -> RunRecord:
    emit: ev.Listener = listener or (lambda _e: None)
    problem = timeout_problem(options.timeout)
    if problem is not None:  # the CLI's parser checks too; this guards the API and plugin
        raise UsageError(f"probe timeout {options.timeout!r}: {problem}")
    expectations = select(plan.expectations, options.only)
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "netcheck run needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN) to build "
            "namespaces and send raw packets. Run it with sudo."
        )
    runtime_name = choose_runtime(options.runtime, plan, options.docker_host)
    runtime: Runtime = registered()[runtime_name](
        RuntimeOptions(
            run_id=options.run_id,
            docker_host=options.docker_host,
            allow_uplink=options.allow_uplink,
            image=options.image or plan.image,
        )
    )
    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    phases: dict[str, float] = {}
    emit(
        ev.RunStarted(
            run_id=options.run_id,
            scenario=plan.name,
            runtime=runtime_name,
            expectations=len(expectations),
        )
    )
    topology: Topology | None = None
    verdicts: list[Verdict] = []
    run_facts: dict[str, str] = {}
    # Host settings the run changed (--grow-neigh-table): given back after the teardown,
    # once the lab's namespaces and their neighbour entries are gone; restored earlier, a
    # table holding the run's entries would be over its old limit for everyone.
    host_settings = ExitStack()
    with sigterm_raises():
        try:
            with _phase("build", phases, emit):
                built = runtime.build(
                    plan, lambda msg: emit(ev.Progress(phase="build", message=msg))
                )
            topology = built.topology
            # External networks as the runtime read them: the diagnosis reasons on Docker's
            # real driver, parent and mode, not on the scenario's bare name.
            plan = plan.with_networks(topology.networks)
            if options.after_build is not None:
                options.after_build(topology)
            verdicts = _probe_and_judge(
                plan, expectations, built, options, phases, emit, run_facts, host_settings
            )
            if options.inspect is not None:
                options.inspect(topology)
        finally:
            # Deferred first: a signal that lands while the phase is announced must not
            # skip the teardown.
            with signals_deferred(), _phase("teardown", phases, emit):
                try:
                    runtime.teardown()
                finally:
                    host_settings.close()
    env = _environment(topology)
    facts = {**_facts(env), **(topology.facts if topology else {}), **run_facts}
    record = RunRecord(
        run_id=options.run_id,
        scenario=plan.name,
        source=plan.source,
        runtime=runtime_name,
        started_at=started_at,
        duration_s=round(time.monotonic() - started, 3),
        phase_s=phases,
        facts=facts,
        verdicts=tuple(verdicts),
        topology=topology,
        timeout_s=options.timeout,
        environment=env,
    )
    emit(ev.RunFinished(record=record))
    return record


@contextmanager
def _phase(name: str, phases: dict[str, float], emit: ev.Listener) -> Iterator[None]:
    emit(ev.PhaseStarted(phase=name))
    t0 = time.monotonic()
    try:
        yield
    finally:
        phases[name] = round(time.monotonic() - t0, 3)
        emit(ev.PhaseFinished(phase=name, seconds=phases[name]))


def _probe_and_judge(
    plan: Plan,
    expectations: Sequence[Expectation],
    built: BuildResult,
    options: RunOptions,
    phases: dict[str, float],
    emit: ev.Listener,
    facts: dict[str, str],
    host_settings: ExitStack,
) -> list[Verdict]:
    from netcheck.diagnose import diagnose_all, explain_skip
    from netcheck.diagnose.tracefs import recording
    from netcheck.diagnose.window import ProbeWindow, observe
    from netcheck.probes import Responders, run_probes

    topology = built.topology
    tasks, unresolved = build_tasks(expectations, topology, built.unavailable)
    by_id = {e.id: e for e in expectations}
    results: dict[str, ProbeResult] = {}
    with ExitStack() as stack:
        if options.grow_neigh_table:
            from netcheck.probes.pool import neighbour_demand
            from netcheck.runtime.neightable import grown

            host_settings.enter_context(
                grown(options.run_id, neighbour_demand(tasks), facts)
            )
        with _phase("listen", phases, emit):
            responders = stack.enter_context(
                Responders(listen_tasks(topology, listener_targets(tasks)), strict=False)
            )
            tasks, lost = without_listener(tasks, responders.failed)
            unresolved += lost
        with _phase("probe", phases, emit):
            done = 0

            def on_result(r: ProbeResult) -> None:
                nonlocal done
                done += 1
                emit(ev.Progress(phase="probe", message=f"{done}/{len(tasks)}"))

            # Kernel drop reasons, counter deltas and log lines while the probes fly. The
            # window opens (a trace instance, every namespace's counters: ~1 s at N=100)
            # while the probe workers start; they send once it is open. The run's one trace
            # instance stays until the diagnosis's re-sends are done (`stack`).
            recorder = stack.enter_context(recording(options.run_id))
            with ExitStack() as watching:
                windows: list[ProbeWindow] = []

                def open_window() -> None:
                    windows.append(watching.enter_context(
                        observe(topology, recorder=recorder, probes=len(tasks))))

                for r in run_probes(tasks, options.timeout, on_result, prelude=open_window):
                    results[r.probe_id] = r
                if not windows:  # no task: no worker ran the prelude
                    open_window()
                window = windows[0]
        with _phase("diagnose", phases, emit):
            pairs = [(by_id[pid], r) for pid, r in results.items()]
            diagnosed = diagnose_all(
                plan, topology, pairs, window=window, timeout=options.timeout,
                reprobe=run_probes,
            )
    verdicts: dict[str, Verdict] = {}
    for u in unresolved:
        skipped = not_tested(by_id[u.expectation_id], u.reason, skip=u.skip)
        verdicts[u.expectation_id] = replace(skipped, findings=explain_skip(u.reason, topology))
    for pid, r in results.items():
        got = diagnosed.get(pid)
        verdicts[pid] = judge(by_id[pid], r, () if got is None else got.findings)
        if got is not None and got.path is not None:
            verdicts[pid] = replace(verdicts[pid], path=got.path)
    ordered = [verdicts[e.id] for e in expectations if e.id in verdicts]
    for v in ordered:
        emit(ev.VerdictReady(verdict=v))
    return ordered
