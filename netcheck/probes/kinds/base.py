"""The probe-kind contract and its registry, keyed by the kind's YAML word (`icmp`, `tcp`).

A kind says how to craft its packet, how to classify what came back, what evidence it
records, and the few traits the engine, the judge and the dry run ask about (does the
target need a responder, does the packet go to a DNS server). This module and every kind
module are scapy-free at import: the main process reads those traits and never imports
scapy (it would cost ~0.7 s and ~27 MB per CLI run). Crafting and classifying import scapy
when called, which happens only in probe workers (the forkserver preloads scapy) and tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from netcheck.model.plan import Expectation, IPAddress
from netcheck.model.results import Packet, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.route import RouteInfo

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket

    from netcheck.probes.wire import Probe, Reply


class Kind(Protocol):
    """One probe kind. Identifiers are handed out per worker so answers can be told apart:
    `sport` (tcp/udp/dns source port), `ident` and `seq` (echo id/seq, DNS id, IPv4 id),
    `isn` (the TCP initial sequence number)."""

    word: str  # the YAML word, the registry key
    link_layer: bool  # an Ethernet frame on the route's interface (ARP/NDP): every answer kept
    needs_listener: bool  # the target answers only if a responder listens on the port
    asks_server: bool  # the packet goes to the task's DNS server, not to the target

    def route_error(self, task: ProbeTask, route: RouteInfo) -> str | None:
        """Why this route cannot carry the probe (e.g. ARP to an off-link target), or None."""
        ...

    def craft_wire(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> Probe | None:
        """The probe as bytes built without scapy, or None: then `craft` builds it."""
        ...

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        """The scapy packet: L3 kinds start at IP/IPv6, link-layer kinds at Ether."""
        ...

    def classify_wire(
        self, task: ProbeTask, route: RouteInfo, probe: Probe, replies: Sequence[Reply],
        *, timeout: float, t0: float,
    ) -> ProbeResult | None:
        """The result read from bytes (a `craft_wire` probe), or None: then `classify`."""
        ...

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        """What the sent packet and the replies matched to it mean."""
        ...

    def evidence(self, pkt: ScapyPacket, t0: float, *, sent: bool) -> Packet:
        """One sent or received packet as the result records it."""
        ...

    def wrong_answer(self, exp: Expectation, result: ProbeResult) -> str | None:
        """Why an answer that came back still fails a reachable expectation, or None."""
        ...


class BaseKind:
    """Defaults for a kind: routed (L3), no responder, no server, no byte-level fast path,
    every answer is the right one. A kind overrides what differs."""

    link_layer = False
    needs_listener = False
    asks_server = False

    def route_error(self, task: ProbeTask, route: RouteInfo) -> str | None:
        return None

    def craft_wire(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> Probe | None:
        return None

    def classify_wire(
        self, task: ProbeTask, route: RouteInfo, probe: Probe, replies: Sequence[Reply],
        *, timeout: float, t0: float,
    ) -> ProbeResult | None:
        return None

    def evidence(self, pkt: ScapyPacket, t0: float, *, sent: bool) -> Packet:
        from netcheck.probes.kinds._evidence import l3_evidence

        return l3_evidence(pkt, t0, sent=sent)

    def wrong_answer(self, exp: Expectation, result: ProbeResult) -> str | None:
        return None


class UnknownKind(LookupError):
    pass


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    _KINDS[kind.word] = kind


def unregister(word: str) -> None:
    _KINDS.pop(word, None)


def registered() -> Mapping[str, Kind]:
    return dict(_KINDS)


def kind_for(word: str) -> Kind:
    """The kind registered under `word` (a ProbeKind is its own word)."""
    kind = _KINDS.get(word)
    if kind is None:
        raise UnknownKind(f"no probe kind {word!r} is registered (known: {', '.join(_KINDS)})")
    return kind


def destination(task: ProbeTask) -> IPAddress:
    """Where a probe's packet goes: the DNS server for kinds that ask one, else the target."""
    if task.dns_server is not None and kind_for(task.probe.kind).asks_server:
        return task.dns_server
    return task.target_address
