"""The inside of one probe worker: enter a namespace, send every probe in one batch, classify.

Runs in a child process that owns exactly one namespace (scapy's `conf` is process-wide).
Imported by the forkserver at start-up (preload), so scapy is already loaded
when a worker is forked.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scapy.config import conf
from scapy.layers.inet import UDP
from scapy.supersocket import L3RawSocket, L3RawSocket6

from netcheck.model.plan import IPAddress, ProbeKind
from netcheck.model.results import ProbeResult
from netcheck.probes._netns import enter_netns
from netcheck.probes.base import BatchInfo, ProbeTask, WorkerReport
from netcheck.probes.exchange import SendErrors, exchange, l2_socket, l3_socket
from netcheck.probes.packets import (
    classify_probe,
    craft_probe,
    error_result,
    query_server,
    send_error_result,
)
from netcheck.probes.route import RouteError, RouteInfo, RouteLookup
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


def reset_scapy(*, full: bool = FULL_SCAPY_RELOAD) -> None:
    """Make scapy see the namespace this process is now in, and route through the kernel."""
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
                done = exchange(sock, [p for _, p in self.items], timeout, multi=self.multi)
            finally:
                sock.close()
            self.answers = done.answers
            self.send_s = done.send_s
            self.frames = done.frames
        except Exception as exc:  # the whole batch is lost; say why on each of its probes
            log.exception("probe batch %s failed", self.name)
            self.failure = f"{type(exc).__name__}: {exc}"
        self.seconds = time.monotonic() - start

    def info(self) -> BatchInfo:
        answered = sum(1 for _, p in self.items if id(p) in self.answers)
        return BatchInfo(
            name=self.name,
            packets=len(self.items),
            answered=answered,
            seconds=round(self.seconds, 4),
            send_s=round(self.send_s, 4),
            frames=self.frames,
        )


def _plan_batches(
    tasks: Sequence[ProbeTask], lookup: RouteLookup, results: list[ProbeResult | None]
) -> tuple[dict[str, _Batch], dict[int, RouteInfo]]:
    rng = random.Random(os.getpid() ^ time.time_ns())  # noqa: S311 - ports/ids, not secrets
    sport_base = rng.randrange(20000, 60000 - len(tasks))
    ident = rng.randrange(1, 0xFFFF)
    batches: dict[str, _Batch] = {}
    routes: dict[int, RouteInfo] = {}
    for i, task in enumerate(tasks):
        try:
            route = lookup.get(query_server(task), task.source_address)
        except RouteError as exc:
            results[i] = error_result(task, f"could not send: {exc}")
            continue
        if task.source_address is not None:
            # Pinned: the packet carries that address whatever the route prefers.
            route = replace(route, src=task.source_address)
        kind = task.probe.kind
        if kind is ProbeKind.ARP and not route.on_link:
            why = f"via {route.gateway}" if route.gateway else "a local address"
            results[i] = error_result(
                task, f"target not on-link for ARP ({task.target_address} is {why})", route
            )
            continue
        try:
            pkt = craft_probe(
                task, route, sport=sport_base + i, ident=ident, seq=i, isn=rng.getrandbits(32)
            )
        except ValueError as exc:
            results[i] = error_result(task, f"could not build the probe: {exc}", route)
            continue
        routes[i] = route
        if kind is ProbeKind.ARP:
            name = f"l2:{route.ifname}"
            if name not in batches:
                ifname = route.ifname
                batches[name] = _Batch(name=name, open_socket=_opener(l2=ifname), multi=True)
        else:
            v6 = ":" in str(query_server(task))
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


def probe_namespace(
    netns: str, tasks: Sequence[ProbeTask], timeout: float, inode: int | None = None
) -> WorkerReport:
    """Run every task from inside `netns` (checked to be namespace `inode` when given).
    Call only in a process of its own."""
    started = time.monotonic()
    enter_netns(netns, inode)
    reset_scapy()
    results: list[ProbeResult | None] = [None] * len(tasks)
    lookup = RouteLookup()
    lookup.prefetch((query_server(t), t.source_address) for t in tasks)
    batches, routes = _plan_batches(tasks, lookup, results)
    setup_s = time.monotonic() - started

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
        cpu_s=round(time.process_time(), 4),
    )
