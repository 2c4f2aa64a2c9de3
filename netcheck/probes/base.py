"""The probe contract: tasks in, results out; one worker process per source namespace."""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.model.plan import IPAddress, Port, ProbeSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeTask:
    probe_id: str  # the expectation id
    source: str  # node name
    source_netns: str  # path of the source's network namespace
    target: str  # node name (or "node@network")
    target_address: IPAddress
    probe: ProbeSpec
    dns_server: IPAddress | None = None  # dns probes: where to send the query


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenTask:
    """Ports to answer on inside one namespace (TCP listen, UDP echo)."""

    node: str
    netns: str
    ports: tuple[Port, ...]
