"""Run probe tasks: every source namespace at once, a worker thread each.

Local namespaces whose probes are all L3 share SHARED_PROCESSES processes, a thread per
namespace (setns moves one thread); ARP/NDP sources and remote sites get a process each
(scapy's interface table is per process). Measured at N=100: forking a process per
namespace cost the parent ~16 ms each, 2.3 s in all.

Start method: workers are forked from a multiprocessing *forkserver* that preloaded scapy
and the worker module. Measured (50 source namespaces x 49 ICMP targets, 10% dead, 1 s
timeout, 2 shared cores): forkserver 2.3-3.2 s, main RSS 38 -> 41 MB; 'fork' from the main
process 2.6-2.9 s, main RSS 38 -> 65 MB (the parent has to import scapy, or every child
pays ~0.7 s importing it). Same speed within the noise, so the safe one: the forkserver is
single-threaded and stays in the root namespace, while 'fork' would clone a possibly
multi-threaded engine. `warm_up()` (or starting Responders) starts the forkserver early,
so its one-time ~0.5 s preload is not in the probe phase.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.spawn as spawn
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netcheck.model.results import Observation, ProbeResult
from netcheck.model.sites import NamespacePath, ProbeSite
from netcheck.probes import sites
from netcheck.probes._entry import noop, probe_local, probe_worker, probe_workers
from netcheck.probes.base import Pacing, ProbeTask, WorkerReport, result_for
from netcheck.probes.kinds import added, kind_for
from netcheck.probes.schedule import poll_interval
from netcheck.sigmask import signals_blocked

log = logging.getLogger(__name__)

START_METHOD = "forkserver"
# The quiet module first, and outside netcheck.probes, whose package imports come first.
PRELOAD = ("netcheck._forkserver_quiet", "netcheck.probes.worker")
# Beyond the probe timeout, how long a worker may take to start, enter its namespace and
# report before it counts as hung. Generous: 50 workers share 2 cores at start-up.
DEFAULT_MARGIN_S = 10.0
# And per probe of the run: a worker's batch shares 2 cores with every other one, and a
# broadcast costs the kernel more the more namespaces the LAN has (measured: ~0.35 ms of
# wall per probe at N=250, all sent at once with --grow-neigh-table; 62,250 probes outlived
# the bare margin and were killed as hung).
MARGIN_PER_PROBE_S = 0.001

ResultCallback = Callable[[ProbeResult], None]


def get_context(method: str | None = None) -> multiprocessing.context.BaseContext:
    method = method or START_METHOD
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


_START_LOCK = threading.Lock()
_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


def start_process(proc: Any) -> None:
    """`proc.start()`, without making the child re-import the main module.

    A forkserver/spawn child normally re-runs the parent's `__main__` (a script, the CLI, or
    pytest) to resolve pickled references to it; its imports are not in the forkserver
    (CPython 3.11 never preloads `__main__`: it asks for a 'main_path' key that
    get_preparation_data does not produce), so that cost ~130 ms of CPU per worker, 50x.
    Our targets and arguments live in netcheck modules, so the child needs no `__main__`.
    The hook is swapped only for our own start() calls, under a lock.
    """
    if not isinstance(proc, multiprocessing.context.ForkServerProcess):
        proc.start()
        return
    original = spawn.get_preparation_data

    def without_main(name: str) -> dict[str, Any]:
        data: dict[str, Any] = original(name)
        for key in _MAIN_KEYS:
            data.pop(key, None)
        return data

    with _START_LOCK:
        spawn.get_preparation_data = without_main
        try:
            proc.start()
        finally:
            spawn.get_preparation_data = original


def warm_up(*, wait: bool = False) -> None:
    """Start the preloading forkserver now, so the probe phase does not pay for it.

    The forkserver preloads in the background; `wait` forks one no-op child through it and
    joins it, so the preload is over when this returns (benchmarks time the probe phase
    alone, as the engine does after its listen phase).
    """
    ctx = get_context()
    multiprocessing.forkserver.ensure_running()
    if wait and START_METHOD == "forkserver":
        proc = ctx.Process(target=noop, name="netcheck-warm-up", daemon=True)  # type: ignore[attr-defined]
        start_process(proc)
        proc.join()


@dataclass(slots=True)
class _Running:
    site: ProbeSite
    indices: list[int]
    proc: Any  # multiprocessing.Process of the chosen context
    conn: multiprocessing.connection.Connection
    started: float
    deadline: float
    shared: bool = False  # the process serves other sites too: joined once all reported


# Local sites with L3 probes only share processes, a thread per namespace: as many
# processes as this, at most (GIL: one core's Python work each; the kernel's part of a
# send runs without it).
SHARED_PROCESSES = 2 * (os.cpu_count() or 1)


def _sharable(site: ProbeSite, chunk: Sequence[ProbeTask]) -> bool:
    return _is_local(site) and not any(kind_for(t.probe.kind).link_layer for t in chunk)


def _buckets(sites: Sequence[ProbeSite], count: int) -> list[list[ProbeSite]]:
    """`sites` dealt round-robin into at most `count` processes (no empty one)."""
    count = min(count, len(sites))
    return [list(sites[i::count]) for i in range(count)] if count > 0 else []


def _group(tasks: Sequence[ProbeTask]) -> dict[ProbeSite, list[int]]:
    groups: dict[ProbeSite, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(task.source_site, []).append(i)
    return groups


def _exit_text(proc: Any) -> str:
    code = proc.exitcode
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _failed(tasks: Sequence[ProbeTask], indices: list[int], detail: str) -> list[ProbeResult]:
    return [result_for(tasks[i], Observation.ERROR, detail) for i in indices]


_NEIGH_STATS = {4: "arp_cache", 6: "ndisc_cache"}


def neighbour_overflows() -> dict[int, int]:
    """The kernel's `table_fulls` per IP version: neighbour entries it could not create.

    The neighbour tables are shared by every namespace of the host (gc_thresh3 defaults to
    1024 entries in all); 50 namespaces probing 49 neighbours each overflow it, and the
    kernel then drops the probes without telling sendto(). Read where the main process
    runs (the root namespace; the file exists only there): empty when unreadable.
    """
    out: dict[int, int] = {}
    for version, name in _NEIGH_STATS.items():
        try:
            with open(f"/proc/net/stat/{name}") as fh:
                lines = fh.read().splitlines()
            col = lines[0].split().index("table_fulls")
            out[version] = sum(int(line.split()[col], 16) for line in lines[1:] if line.strip())
        except (OSError, ValueError, IndexError):
            continue
    return out


# Room in the neighbour table kept free of our probes: the host's own traffic, other labs.
NEIGH_RESERVE = 96
_GC_THRESH3 = "/proc/sys/net/ipv{v}/neigh/default/gc_thresh3"


def neighbour_room() -> dict[int, int]:
    """Per IP version: gc_thresh3 minus the entries the kernel holds now (all namespaces).

    Conservative: `entries` also counts permanent entries, which the limit does not.
    """
    out: dict[int, int] = {}
    for version, name in _NEIGH_STATS.items():
        try:
            with open(_GC_THRESH3.format(v=version)) as fh:
                limit = int(fh.read())
            with open(f"/proc/net/stat/{name}") as fh:
                lines = fh.read().splitlines()
            col = lines[0].split().index("entries")
            out[version] = limit - int(lines[1].split()[col], 16)
        except (OSError, ValueError, IndexError):
            continue
    return out


def _is_local(site: ProbeSite) -> bool:
    """A site whose probes this machine sends (its neighbour table is the host's)."""
    try:
        return sites.entry_for(site).probe is probe_local
    except sites.UnknownSite:
        return False


def _hop(task: ProbeTask) -> Any:
    return task.dns_server if task.dns_server is not None else task.target_address


def neighbour_demand(tasks: Sequence[ProbeTask]) -> dict[int, int]:
    """Per IP version, at most how many entries the probes resolve if all go out at once.

    Each source resolves each distinct destination (an upper bound: a routed destination
    shares its gateway's entry), and each request leaves a learned entry in the target.
    """
    local = (t for t in tasks if _is_local(t.source_site))
    pairs = {(t.source_site, _hop(t)) for t in local}
    out: dict[int, int] = {}
    for _netns, addr in pairs:
        out[addr.version] = out.get(addr.version, 0) + 2
    return out


# A resolution leaves an entry in the source and one the target learns from the request,
# both pinned (no room taken) once their worker sees them. Lag beyond that (a worker
# waiting for a CPU) is the room brake's: it counts every lead in flight as its target's
# entry too, as that shows only once the request is processed.
ENTRIES_PER_TOKEN = 2
# "auto" | "always" | "never": see pace_tokens (benchmarks compare the modes).
DEFAULT_PACE = "auto"


def pace_tokens(tasks: Sequence[ProbeTask], pace: str | None = None) -> dict[int, int]:
    """Tokens per IP version when the run must be paced (none when everything fits).

    `pace`: "auto" paces only when the demand exceeds the room, "always" paces every run
    (tests, benchmarks), "never" sends everything at once (the overflow guard still holds).
    """
    pace = pace or DEFAULT_PACE
    if pace == "never":
        return {}
    room = neighbour_room()
    demand = neighbour_demand(tasks)
    out: dict[int, int] = {}
    for version, need in demand.items():
        free = room.get(version)
        if free is None:
            continue
        if pace == "always" or need > free - NEIGH_RESERVE:
            out[version] = max(1, (free - NEIGH_RESERVE) // ENTRIES_PER_TOKEN)
    return out


def _limits(versions: Iterable[int]) -> dict[int, int]:
    """gc_thresh3 less the reserve, per IP version: the fill paced workers stay below."""
    out: dict[int, int] = {}
    for version in versions:
        try:
            with open(_GC_THRESH3.format(v=version)) as fh:
                out[version] = int(fh.read()) - NEIGH_RESERVE
        except (OSError, ValueError):
            continue
    return out


def _distrust_silence(got: list[ProbeResult], before: dict[int, int]) -> list[ProbeResult]:
    """SILENT is a pass for an expected-unreachable probe only if the packet really left."""
    if not before or not any(r.observation is Observation.SILENT for r in got):
        return got
    now = neighbour_overflows()
    grown = {v: now[v] - before[v] for v in before if v in now and now[v] > before[v]}
    if not grown:
        return got
    out = []
    for r in got:
        version = r.target_address.version if r.target_address is not None else 4
        if r.observation is Observation.SILENT and version in grown:
            sysctl = f"net.ipv{version}.neigh.default.gc_thresh3"
            r = replace(
                r,
                observation=Observation.ERROR,
                detail=(
                    f"{r.detail}, but the kernel's neighbour table overflowed meanwhile "
                    f"({_NEIGH_STATS[version]} table_fulls +{grown[version]}): the probe may "
                    f"never have left; raise {sysctl}"
                ),
            )
        out.append(r)
    return out


def run_workers(
    tasks: Sequence[ProbeTask],
    timeout: float,
    on_result: ResultCallback | None = None,
    *,
    margin: float = DEFAULT_MARGIN_S,
    start_method: str | None = None,
    pace: str | None = None,
    prelude: Callable[[], None] | None = None,
) -> tuple[list[ProbeResult], list[WorkerReport]]:
    """Like `run_probes`, plus one WorkerReport per source namespace (batches, pids, timing).

    `prelude` runs on a thread while the workers start and set up (forking 100 of them
    takes seconds on 2 cores); no probe goes out before it has returned.

    When all probes at once would overflow the kernel's neighbour table, workers pace
    their sends by a shared budget (schedule.py) and stay, freeing the entries their
    namespace learns from peers, until every worker has reported.
    """
    results: list[ProbeResult | None] = [None] * len(tasks)
    reports: list[WorkerReport] = []
    if not tasks:
        return [], reports
    margin += MARGIN_PER_PROBE_S * len(tasks)
    ctx = get_context(start_method)
    running: dict[multiprocessing.connection.Connection, _Running] = {}
    lingering: list[Any] = []  # paced workers that reported and still free entries

    budget = pace_tokens(tasks, pace)
    pacing: Pacing | None = None
    paced: set[ProbeSite] = set()
    slots: dict[ProbeSite, int] = {}
    stop_r: Any = None
    stop_w: Any = None
    if budget:
        stop_r, stop_w = ctx.Pipe(duplex=False)
        # Pacing deletes and pins neighbour entries in the source's namespace: only in
        # namespaces of netcheck's own lab (a namespace path), never in a container's
        # (an adopted one is not ours to modify); those probe unpaced, overflow guard kept.
        paced = {site for site in _group(tasks)
                 if isinstance(site, NamespacePath) and _is_local(site)}
        workers = max(1, len(paced))
        quota = {v: n // workers for v, n in budget.items()}
        pacing = Pacing(
            tokens={v: ctx.Semaphore(n - quota[v] * workers) for v, n in budget.items()},
            quota=quota,
            ready=ctx.Semaphore(0),
            limit=_limits(budget),
            stop=stop_r,
            poll_s=poll_interval(workers),
            settled={v: ctx.Array("q", workers, lock=False) for v in budget},
            held={v: ctx.Array("q", workers, lock=False) for v in budget},
        )
        slots = {site: i for i, site in enumerate(sorted(paced, key=str))}
        # Worst case every round of leads is silent and holds its tokens for a timeout.
        leads = sum(neighbour_demand(tasks).values()) // 2
        margin += timeout * (leads // max(1, min(budget.values())) + 1)

    overflows_before = neighbour_overflows()
    # The go: a byte on a socket pair every worker peeks at (probes/base.wait_for_go).
    go: socket.socket | None = None
    go_w: socket.socket | None = None
    if prelude is not None or pacing is not None:
        go, go_w = socket.socketpair()
    pre_thread: threading.Thread | None = None
    pre_error: list[BaseException] = []
    if prelude is not None:

        def run_prelude() -> None:
            try:
                prelude()
            except BaseException as exc:  # raised in the caller's thread below
                pre_error.append(exc)

        pre_thread = threading.Thread(target=run_prelude, name="netcheck-prelude", daemon=True)
        pre_thread.start()

    def finish(run: _Running, got: list[ProbeResult], report: WorkerReport) -> None:
        settle(run.indices, got, report)

    def settle(indices: list[int], got: list[ProbeResult], report: WorkerReport) -> None:
        got = _distrust_silence(got, overflows_before)
        report = replace(report, results=tuple(got))
        for i, res in zip(indices, got, strict=True):
            results[i] = res
            if on_result is not None:
                on_result(res)
        reports.append(report)

    def fail(run: _Running, why: str) -> None:
        detail = f"probe worker for {run.site} (pid {run.proc.pid}) {why}"
        log.error("%s", detail)
        wall = time.monotonic() - run.started
        got = _failed(tasks, run.indices, detail)
        finish(
            run,
            got,
            WorkerReport(
                netns=str(run.site), pid=run.proc.pid, results=tuple(got), wall_s=wall, error=detail
            ),
        )

    def pacing_for(site: ProbeSite) -> Pacing | None:
        return replace(pacing, slot=slots[site]) if pacing is not None and site in paced else None

    def start(target: Callable[..., None], args: tuple[Any, ...], name: str,
              conns: list[tuple[ProbeSite, list[int], Any, Any]]) -> None:
        """Start one process for the sites in `conns` (site, indices, parent end, child end)."""
        now = time.monotonic()
        proc = ctx.Process(target=target, args=args, name=name, daemon=True)  # type: ignore[attr-defined]
        try:
            start_process(proc)
        except Exception as exc:
            for site, indices, parent_conn, child_conn in conns:
                child_conn.close()
                parent_conn.close()
                fail(_Running(site, indices, proc, parent_conn, now, now),
                     f"could not start: {exc}")
            return
        for site, indices, parent_conn, child_conn in conns:
            child_conn.close()
            # The deadline counts from each worker's own start, so a late starter is not
            # punished for the queue in front of it.
            running[parent_conn] = _Running(site, indices, proc, parent_conn, now,
                                             now + timeout + margin, shared=len(conns) > 1)

    try:
        shared: list[ProbeSite] = []
        groups = _group(tasks)
        for site, indices in groups.items():
            try:
                entry = sites.entry_for(site)
            except sites.UnknownSite as exc:
                # Could not test: an error per probe, never silence.
                got = _failed(tasks, indices, f"probe worker for {site}: {exc}")
                settle(indices, got, WorkerReport(netns=str(site), pid=None,
                                                  results=tuple(got), error=str(exc)))
                continue
            chunk = [tasks[i] for i in indices]
            if _sharable(site, chunk):
                shared.append(site)
                continue
            parent_conn, child_conn = ctx.Pipe(duplex=False)
            start(probe_worker,
                  (child_conn, site, entry.probe, chunk, timeout, pacing_for(site), added(), go),
                  f"netcheck-probe:{os.path.basename(str(site))}",
                  [(site, indices, parent_conn, child_conn)])
        for bucket in _buckets(shared, SHARED_PROCESSES):
            conns = [(site, groups[site], *ctx.Pipe(duplex=False)) for site in bucket]
            jobs = [(child, site, [tasks[i] for i in indices], pacing_for(site))
                    for site, indices, _parent, child in conns]
            start(probe_workers, (jobs, timeout, added(), go),
                  f"netcheck-probe:{os.path.basename(str(bucket[0]))}+{len(bucket) - 1}", conns)

        if stop_r is not None:
            stop_r.close()  # the workers hold their own ends now
        if pre_thread is not None:
            pre_thread.join()
            pre_thread = None
            if pre_error:
                raise pre_error[0]
        if pacing is not None:
            # Paced workers start together: until then a namespace may have nobody to
            # settle what it learns. One that never gets there (it crashed) is not waited
            # for beyond the start-up margin.
            until = time.monotonic() + margin
            for _ in range(sum(1 for r in running.values() if r.site in paced)):
                if not pacing.ready.acquire(timeout=max(0.0, until - time.monotonic())):
                    break
        if go_w is not None:
            go_w.send(b"g")
            # The workers' time limits count from here: they waited for the go.
            released = time.monotonic()
            for run in running.values():
                run.deadline = max(run.deadline, released + timeout + margin)
        while running:
            nearest = min(r.deadline for r in running.values())
            wait_s = max(0.0, nearest - time.monotonic())
            ready = multiprocessing.connection.wait(list(running), timeout=wait_s)
            for conn in ready:
                run = running.pop(conn)  # type: ignore[call-overload]
                stays = run.site in paced or run.shared
                _collect(run, finish, fail, linger=stays)
                if stays and run.proc.exitcode is None and run.proc not in lingering:
                    lingering.append(run.proc)
            now = time.monotonic()
            for conn, run in list(running.items()):
                if now >= run.deadline:
                    del running[conn]
                    run.proc.kill()  # a shared one's other sites then report a crash
                    run.proc.join(2.0)
                    conn.close()
                    fail(run, f"did not finish within {timeout + margin:.1f} s; killed")
    finally:
        if pre_thread is not None:  # interrupted while it ran: its owner closes what it made
            # A second signal must not cut this wait short: the prelude would then finish
            # (a trace instance, a tracefs mount) after its owner had closed everything.
            with signals_blocked():
                pre_thread.join()
        for end in (go, go_w):  # without the byte, a waiting worker reads EOF and leaves
            if end is not None:
                end.close()
        if stop_w is not None:
            stop_w.close()  # EOF: lingering workers leave
        for proc in lingering:
            proc.join(5.0)
            if proc.exitcode is None:
                proc.kill()
                proc.join(2.0)
        for run in running.values():  # only when interrupted: leave nothing behind
            if run.proc.pid is not None and run.proc.exitcode is None:
                run.proc.kill()
                run.proc.join(2.0)
            run.conn.close()

    missing = [i for i, r in enumerate(results) if r is None]
    if missing:  # a bug in this module; never pass silently
        raise RuntimeError(f"probe results missing for tasks {missing}")
    return [r for r in results if r is not None], reports


def _collect(
    run: _Running,
    finish: Callable[[_Running, list[ProbeResult], WorkerReport], None],
    fail: Callable[[_Running, str], None],
    *,
    linger: bool = False,
) -> None:
    try:
        msg = run.conn.recv()
    except (EOFError, OSError):
        msg = None
    finally:
        run.conn.close()
    # A paced worker that reported stays until the run's stop pipe closes, and a process
    # serving other sites too until they report (run_workers joins both later); any
    # other is done now.
    if not (linger and (run.shared or (msg is not None and msg[0] == "ok"))):
        run.proc.join(2.0)
        if run.proc.exitcode is None:
            run.proc.kill()
            run.proc.join(2.0)
    wall = time.monotonic() - run.started
    if msg is None:
        fail(run, f"crashed without a report ({_exit_text(run.proc)})")
    elif msg[0] == "ok":
        report: WorkerReport = msg[1]
        if len(report.results) != len(run.indices):
            fail(run, f"returned {len(report.results)} results for {len(run.indices)} probes")
            return
        finish(run, list(report.results), replace(report, wall_s=round(wall, 4)))
    else:
        log.debug("probe worker traceback:\n%s", msg[2] if len(msg) > 2 else "")
        fail(run, f"failed: {msg[1]}")


def run_probes(
    tasks: Sequence[ProbeTask],
    timeout: float,
    on_result: ResultCallback | None = None,
    *,
    prelude: Callable[[], None] | None = None,
) -> list[ProbeResult]:
    """One result per task, in task order. Probes of all namespaces go out concurrently,
    after `prelude` (run while the workers start) has returned."""
    results, _reports = run_workers(tasks, timeout, on_result, prelude=prelude)
    return results
