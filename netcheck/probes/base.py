"""The probe contract: tasks in, results out; one worker process per source namespace."""

from __future__ import annotations

import multiprocessing
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from netcheck.model.pickling import by_fields
from netcheck.model.plan import IPAddress, Port, ProbeSpec
from netcheck.model.results import Observation, ProbeResult
from netcheck.model.sites import ProbeSite


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeTask:
    probe_id: str  # the expectation id
    source: str  # node name
    source_site: ProbeSite  # where the source's probes run
    target: str  # node name (or "node@network")
    target_address: IPAddress
    probe: ProbeSpec
    dns_server: IPAddress | None = None  # dns probes: where to send the query
    # A pinned source (`from: c1@net`, `source:`): the probe's socket is bound to it, so
    # the kernel routes it as it would an application's socket bound there.
    source_address: IPAddress | None = None
    # The node that answers (a literal target's owner in the lab, if any): its responder
    # starts for tcp/udp probes. None: no node of the topology holds the address.
    target_node: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenTask:
    """Ports to answer on inside one namespace (TCP listen, UDP echo)."""

    node: str
    site: ProbeSite
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pacing:
    """Shared by the workers of one run whose probes would overflow the neighbour table.

    `tokens` per IP version: a multiprocessing.Semaphore, one token per resolution in
    flight beyond the workers' own `quota` (schedule.QuotaTokens). `ready`: a
    multiprocessing.Semaphore each worker releases once it is in its namespace with its
    neighbour socket open; the parent says go when all have (so no probe goes out while a
    namespace has nobody to settle the entries it learns). `stop`: the read end of a
    pipe that reaches EOF once every worker has reported; until then a worker keeps
    settling the entries peers' probes leave in its namespace.
    """

    tokens: dict[int, Any]
    quota: dict[int, int]  # per IP version, each worker's own share (the rest is shared)
    ready: Any
    stop: Any
    # Per IP version: gc_thresh3 less the reserve, the most entries the run may see held.
    limit: dict[int, int] = field(default_factory=dict)
    # How often a worker without a token asks the shared pool again (schedule.poll_interval).
    poll_s: float = 0.01
    # Per IP version, a shared array with one slot per worker: how many entries of its
    # namespace take no room (pinned or FAILED; schedule.NeighbourPacer.settled). The host's
    # count of entries less their sum is the fill the limit is about.
    settled: dict[int, Any] = field(default_factory=dict)
    # The same per worker: its leads in flight (NeighbourPacer.held).
    held: dict[int, Any] = field(default_factory=dict)
    slot: int = 0  # this worker's slot in `settled` and `held`


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class BatchInfo:
    """One scapy send/receive batch of a worker: how many packets went out together."""

    name: str  # "ipv4", "ipv6", "l2:<ifname>"
    packets: int
    answered: int
    seconds: float  # the whole batch: send, wait, drain
    send_s: float = 0.0  # from the batch start until the last packet had gone out
    frames: int = 0  # frames that got past the socket's filter and were read
    paced: bool = False  # sent as the neighbour table had room (schedule.py)


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerReport:
    """What one probe worker (one source namespace) did; `error` set when it failed."""

    netns: str  # where it ran, for messages (the site's description)
    pid: int | None
    results: tuple[ProbeResult, ...]
    batches: tuple[BatchInfo, ...] = ()
    setup_s: float = 0.0  # setns + scapy reload + route lookups
    wall_s: float = 0.0  # as seen by the parent, from start to results
    cpu_s: float = 0.0  # the worker's own CPU time (user + system)
    error: str | None = None


def result_for(
    task: ProbeTask, observation: Observation, detail: str, **fields: Any
) -> ProbeResult:
    """The ProbeResult answering `task` (scapy-free: the main process builds error results)."""
    return ProbeResult(
        probe_id=task.probe_id,
        source=task.source,
        target=task.target,
        target_address=task.target_address,
        probe=task.probe,
        observation=observation,
        detail=detail,
        **fields,
    )


# How long a started worker waits for the parent's go (run_workers' prelude) at most.
GO_TIMEOUT_S = 120.0
_GO_POLL_S = 0.2  # how often a waiting worker looks whether its parent still runs


def wait_for_go(go: socket.socket | None) -> None:
    """Block until the parent says the probes may go out (None: at once).

    `go` is one end of a socket pair the parent writes a byte to: every worker sees it at
    once, by peeking, where an Event's set() wakes its waiters one handshake at a time
    (measured: ~1.5 s for 100 workers on 2 loaded cores). A parent that dies meanwhile
    (SIGTERM between starting this worker and recording it) closes its end without the
    byte: the worker leaves at once instead of outliving it, holding its stdout."""
    if go is None:
        return
    parent = multiprocessing.parent_process()
    deadline = time.monotonic() + GO_TIMEOUT_S
    while True:
        if select.select([go], [], [], _GO_POLL_S)[0]:
            if go.recv(1, socket.MSG_PEEK):
                return
            raise SystemExit("the run that started this probe worker is gone")
        if parent is not None and not parent.is_alive():
            raise SystemExit("the run that started this probe worker is gone")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no go from the parent within {GO_TIMEOUT_S:.0f} s")
