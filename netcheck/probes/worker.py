"""The inside of one probe worker: enter a namespace, send every probe in one batch, classify.

Runs in a child process that owns exactly one namespace (scapy's `conf` is process-wide).
Imported by the forkserver at start-up (preload), so scapy is already loaded
when a worker is forked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scapy.config import conf
from scapy.layers.inet import UDP
from scapy.supersocket import L3RawSocket, L3RawSocket6

from netcheck.model.plan import IPAddress
from netcheck.model.results import ProbeResult
from netcheck.probes._netns import enter_netns
from netcheck.probes.base import BatchInfo, Pacing, ProbeTask, WorkerReport, wait_for_go
from netcheck.probes.exchange import (
    SendErrors,
    apply_actions,
    exchange,
    exchange_paced,
    l2_socket,
    l3_socket,
)
from netcheck.probes.kinds import destination, kind_for
from netcheck.probes.neigh import NeighSocket
from netcheck.probes.packets import classify_probe, craft_probe, error_result, send_error_result
from netcheck.probes.route import RouteError, RouteInfo, RouteLookup
from netcheck.probes.schedule import Key, NeighbourPacer, QuotaTokens
from netcheck.probes.wire import Probe, Reply

log = logging.getLogger(__name__)


# Full reload of scapy's interface and route tables after setns, as DESIGN §4 describes.
# Off by default: scapy parses rtnetlink dumps with its packet classes (~70 ms of CPU per
# worker, measured), which for 50 workers on 2 cores cost more than the probe timeout.
# Nothing here needs those tables: the kernel routes (raw sockets), route facts come from
# RouteLookup, and every packet carries explicit addresses. The cheap reset below forgets
# the forkserver's root-namespace view instead, so scapy reloads interfaces lazily, in this
# namespace, if anything asks, and can never route by the host's table.
FULL_SCAPY_RELOAD = False


_RESET_LOCK = threading.Lock()
_RESET_DONE = False


def reset_scapy(*, full: bool = FULL_SCAPY_RELOAD) -> None:
    """Make scapy see the namespace this process is now in, and route through the kernel.

    Once per process: a process serving several namespaces (one thread each, L3 probes
    only, which never ask scapy for an interface) resets it for all of them."""
    global _RESET_DONE
    with _RESET_LOCK:
        if _RESET_DONE and not full:
            return
        _RESET_DONE = True
    conf.verb = 0
    if full:
        conf.ifaces.reload()
        conf.route.resync()
        conf.route6.resync()
    else:
        conf.ifaces.data.clear()  # resolve_iface() reloads on the first miss
        conf.route.routes = []
        conf.route.invalidate_cache()
        conf.route6.routes = []
        conf.route6.invalidate_cache()
    conf.netcache.flush()
    # The kernel routes and resolves neighbours: "no route" comes back from sendto().
    conf.L3socket = L3RawSocket
    conf.L3socket6 = L3RawSocket6
    # Match UDP replies by addresses and ports only. Scapy would otherwise dissect a reply
    # from port 53 as DNS and refuse to pair it with a probe whose payload it built as Raw
    # (and vice versa); DNS replies are parsed explicitly by the classifier instead.
    UDP.payload_guess = []


def _opener(
    *, l2: str | None = None, v6: bool = False, ports: tuple[int, int] | None = None,
    source: IPAddress | None = None,
) -> Callable[[SendErrors], Any]:
    def open_socket(errors: SendErrors) -> Any:
        if l2 is not None:
            return l2_socket(l2, errors)
        return l3_socket(v6, errors, ports, source=source)

    return open_socket


@dataclass(slots=True)
class _Batch:
    name: str
    open_socket: Callable[[SendErrors], Any]
    multi: bool
    items: list[tuple[int, Probe]] = field(default_factory=list)
    # Paced batches (L3 only): the neighbour entry each item needs, and the shared tokens.
    keys: list[Key | None] = field(default_factory=list)
    tokens: Any = None
    family: int = socket.AF_INET
    room: Callable[[], int] | None = None
    on_settled: Callable[[int], None] | None = None
    on_held: Callable[[int], None] | None = None
    start: int = 0  # where the pacer starts in its next hops (NeighbourPacer.start)
    poll_s: float = 0.01
    # Where a paced batch leaves its neighbour socket and pacer (the namespace thread's
    # _PINNING list: a batch may run on a thread of its own).
    pinning: list[tuple[NeighSocket, NeighbourPacer]] = field(default_factory=list)
    answers: dict[int, list[Reply]] = field(default_factory=dict)
    errors: SendErrors = field(default_factory=SendErrors)
    failure: str | None = None
    seconds: float = 0.0
    send_s: float = 0.0
    frames: int = 0

    def run(self, timeout: float) -> None:
        start = time.monotonic()
        try:
            sock = self.open_socket(self.errors)
            try:
                probes = [p for _, p in self.items]
                if self.tokens is not None:
                    done = self._paced(sock, probes, timeout)
                else:
                    done = exchange(sock, probes, timeout, multi=self.multi)
            finally:
                sock.close()
            self.answers = done.answers
            self.send_s = done.send_s
            self.frames = done.frames
        except Exception as exc:  # the whole batch is lost; say why on each of its probes
            log.exception("probe batch %s failed", self.name)
            self.failure = f"{type(exc).__name__}: {exc}"
        self.seconds = time.monotonic() - start

    def _paced(self, sock: Any, probes: list[Probe], timeout: float) -> Any:
        neigh = NeighSocket()
        try:
            pacer = NeighbourPacer(
                keys=self.keys, tokens=self.tokens, timeout=timeout, family=self.family,
                preexisting=neigh.dump(), room=self.room, on_settled=self.on_settled,
                on_held=self.on_held, start=self.start,
            )
            done = exchange_paced(sock, probes, timeout, pacer, neigh, self.poll_s)
        except BaseException:
            neigh.close()
            raise
        # Its pins stay while peers still probe (their answers go through them): linger().
        self.pinning.append((neigh, pacer))
        return done

    def info(self) -> BatchInfo:
        answered = sum(1 for _, p in self.items if id(p) in self.answers)
        return BatchInfo(
            name=self.name,
            packets=len(self.items),
            answered=answered,
            seconds=round(self.seconds, 4),
            send_s=round(self.send_s, 4),
            frames=self.frames,
            paced=self.tokens is not None,
        )


def _plan_batches(
    tasks: Sequence[ProbeTask], lookup: RouteLookup, results: list[ProbeResult | None]
) -> tuple[dict[str, _Batch], dict[int, RouteInfo]]:
    # Seeded per thread: threads of one process serve several namespaces at once.
    rng = random.Random(  # noqa: S311 - ports/ids, not secrets
        (os.getpid() << 32) ^ (threading.get_native_id() << 16) ^ time.time_ns())
    sport_base = rng.randrange(20000, 60000 - len(tasks))
    ident = rng.randrange(1, 0xFFFF)
    batches: dict[str, _Batch] = {}
    routes: dict[int, RouteInfo] = {}
    for i, task in enumerate(tasks):
        try:
            route = lookup.get(destination(task), task.source_address)
        except RouteError as exc:
            results[i] = error_result(task, f"could not send: {exc}")
            continue
        if task.source_address is not None:
            # Pinned: the packet carries that address whatever the route prefers.
            route = replace(route, src=task.source_address)
        kind = kind_for(task.probe.kind)
        unfit = kind.route_error(task, route)
        if unfit is not None:
            results[i] = error_result(task, unfit, route)
            continue
        try:
            pkt = craft_probe(
                task, route, sport=sport_base + i, ident=ident, seq=i, isn=rng.getrandbits(32)
            )
        except ValueError as exc:
            results[i] = error_result(task, f"could not build the probe: {exc}", route)
            continue
        routes[i] = route
        if kind.link_layer:
            name = f"l2:{route.ifname}"
            if name not in batches:
                ifname = route.ifname
                batches[name] = _Batch(name=name, open_socket=_opener(l2=ifname), multi=True)
        else:
            v6 = ":" in str(destination(task))
            name = "ipv6" if v6 else "ipv4"
            # One socket per pinned source address: bound to it, so the kernel routes the
            # probes as it would an application's socket bound there (`ip route get DST
            # from SRC`: source rules apply) and refuses an address the node does not hold.
            if task.source_address is not None:
                name += f"@{task.source_address}"
            if name not in batches:
                ports = (sport_base, sport_base + len(tasks))
                batches[name] = _Batch(
                    name=name,
                    open_socket=_opener(v6=v6, ports=ports, source=task.source_address),
                    multi=False,
                )
        batches[name].items.append((i, pkt))
    return batches, routes


def _pace(
    batches: dict[str, _Batch], tasks: Sequence[ProbeTask], routes: dict[int, RouteInfo],
    pacing: Pacing, gauge: TableGauge,
) -> None:
    """Make the L3 batches paced: each probe's next hop is the entry its send resolves."""
    for name, version, family in (("ipv4", 4, socket.AF_INET), ("ipv6", 6, socket.AF_INET6)):
        batch = batches.get(name)
        if batch is None or version not in pacing.tokens:
            continue
        batch.pinning = _PINNING.held
        batch.start = pacing.slot
        batch.tokens = QuotaTokens(pacing.tokens[version], pacing.quota.get(version, 0))
        batch.poll_s = pacing.poll_s
        settled, held = pacing.settled.get(version), pacing.held.get(version)
        if settled is not None:
            batch.on_settled = _slot_writer(settled, pacing.slot)
        if held is not None:
            batch.on_held = _slot_writer(held, pacing.slot)
        if version in pacing.limit:
            batch.room = gauge.room(version, pacing.limit[version], settled, held)
        batch.family = family
        for i, _pkt in batch.items:
            route = routes[i]
            if route.local or route.ifname == "lo":
                batch.keys.append(None)
            else:
                hop = route.gateway or destination(tasks[i])
                batch.keys.append((route.ifindex, str(hop)))


class TableGauge:
    """The host's neighbour-table fill, readable from inside a namespace.

    /proc/net/stat/*_cache exists only in the initial namespace, so the files are opened
    before the worker enters its own; a seq file reads anew from offset 0.
    """

    def __init__(self) -> None:
        self._files: dict[int, int] = {}
        for version, name in ((4, "arp_cache"), (6, "ndisc_cache")):
            with contextlib.suppress(OSError):
                self._files[version] = os.open(f"/proc/self/net/stat/{name}", os.O_RDONLY)

    def entries(self, version: int) -> int | None:
        fd = self._files.get(version)
        if fd is None:
            return None
        try:
            lines = os.pread(fd, 1 << 16, 0).decode().splitlines()
            return int(lines[1].split()[lines[0].split().index("entries")], 16)
        except (OSError, ValueError, IndexError):
            return None

    def room(
        self, version: int, limit: int, settled: Any = None, held: Any = None
    ) -> Callable[[], int] | None:
        """The room left under `limit`: the host's entries less those every worker has
        settled (`settled`: the shared per-worker counts; permanent and FAILED entries
        take no room), less one per lead in flight (`held`: its target's entry may not
        show yet)."""
        if self.entries(version) is None:
            return None
        return lambda: (limit - (self.entries(version) or 0)
                        + (sum(settled[:]) if settled is not None else 0)
                        - (sum(held[:]) if held is not None else 0))


def _slot_writer(settled: Any, slot: int) -> Callable[[int], None]:
    def write(count: int) -> None:
        settled[slot] = count

    return write


class _Pinning(threading.local):
    """The paced batches' neighbour sockets and pacers, kept for linger(): per thread, as
    a thread serves one namespace (its batches' threads append to their parent's)."""

    def __init__(self) -> None:
        self.held: list[tuple[NeighSocket, NeighbourPacer]] = []


_PINNING = _Pinning()


def linger(stop: Any) -> None:
    """Until `stop` reaches EOF: keep this namespace's neighbour table settled, then
    delete the entries pinned for the run.

    A namespace whose worker is done still learns an entry from a peer's request now and
    then; pinned, it takes no room and the peer's answers go through it. At EOF every
    worker has reported: the pins go, and the table is left as the probes found it.
    """
    held = list(_PINNING.held)
    _PINNING.held.clear()
    if not held:  # no paced batch here (ARP only): free what peers leave
        neigh = NeighSocket()
        held = [(neigh, NeighbourPacer(keys=(), tokens=QuotaTokens(_NoTokens(), 0), timeout=0.0,
                                       family=socket.AF_INET))]
        apply_actions(neigh, held[0][1].on_entries(neigh.dump()))
    try:
        fds = {neigh.fileno(): (neigh, pacer) for neigh, pacer in held}
        while True:
            ready = select.select([*fds, stop.fileno()], [], [], 5.0)[0]
            if stop.fileno() in ready:
                break
            for fd in ready:
                neigh, pacer = fds[fd]
                apply_actions(neigh, pacer.on_entries(neigh.dump() if neigh.lost else neigh.read()))
        for neigh, pacer in held:
            neigh.mute()
            apply_actions(neigh, pacer.release())
    finally:
        for neigh, _pacer in held:
            neigh.close()


class _NoTokens:
    """The token pool of a pacer that sends nothing."""

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        return False

    def release(self) -> None:
        return None


def probe_namespace(
    netns: str,
    tasks: Sequence[ProbeTask],
    timeout: float,
    inode: int | None = None,
    pacing: Pacing | None = None,
    go: Any = None,
) -> WorkerReport:
    """Run every task from inside `netns` (checked to be namespace `inode` when given),
    once `go` is set (None: at once). Call only in a process of its own."""
    started = time.monotonic()
    gauge = TableGauge() if pacing is not None else None  # before leaving the host's view
    enter_netns(netns, inode)
    reset_scapy()
    results: list[ProbeResult | None] = [None] * len(tasks)
    lookup = RouteLookup()
    lookup.prefetch((destination(t), t.source_address) for t in tasks)
    batches, routes = _plan_batches(tasks, lookup, results)
    if pacing is not None and gauge is not None:
        _pace(batches, tasks, routes, pacing, gauge)
    setup_s = time.monotonic() - started
    if pacing is not None:
        pacing.ready.release()  # in the namespace: the parent's go waits for every one
    wait_for_go(go)

    t0 = time.time()
    todo = list(batches.values())
    # The few batches (IPv4, IPv6, one per ARP interface) run side by side, so the worker
    # costs one timeout, not one per batch.
    threads = [threading.Thread(target=b.run, args=(timeout,), daemon=True) for b in todo[1:]]
    for t in threads:
        t.start()
    if todo:
        todo[0].run(timeout)
    for t in threads:
        t.join()

    for batch in todo:
        for i, pkt in batch.items:
            task, route = tasks[i], routes[i]
            if batch.failure is not None:
                results[i] = error_result(task, f"probe batch failed: {batch.failure}", route)
                continue
            exc = batch.errors.by_id.get(id(pkt))
            if exc is not None:
                results[i] = send_error_result(task, route, pkt.packet(), exc, t0)
                continue
            results[i] = classify_probe(
                task, route, pkt, batch.answers.get(id(pkt), []), timeout=timeout, t0=t0
            )
    final = tuple(r for r in results if r is not None)
    if len(final) != len(tasks):  # a bug, not a network condition: refuse to guess
        raise RuntimeError(f"worker lost {len(tasks) - len(final)} results")
    return WorkerReport(
        netns=netns,
        pid=os.getpid(),
        results=final,
        batches=tuple(b.info() for b in todo),
        setup_s=round(setup_s, 4),
        cpu_s=round(time.thread_time(), 4),  # this namespace's thread (the batches' aside)
    )
