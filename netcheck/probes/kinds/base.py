"""The probe-kind contract and its registry, keyed by the kind's YAML word (`icmp`, `tcp`).

A kind says how the scenario writes it (its `Syntax`: the loader, the JSON Schema and the
hints read it from here), how to craft its packet, how to classify what came back, what
evidence it records, and the traits the engine, the judge, the dry run and the diagnosis
rules ask about (does the target need a responder, does the packet go to a DNS server,
which IP protocol and counters it moves). This module and every kind module are
scapy-free at import: the main process reads those traits and never imports scapy (it
would cost ~0.7 s and ~27 MB per CLI run). Crafting and classifying import scapy when
called, which happens only in probe workers (the forkserver preloads scapy) and tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from netcheck.model.plan import Expectation, IPAddress
from netcheck.model.results import Packet, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.route import RouteInfo

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket

    from netcheck.probes.wire import Probe, Reply


class Argument(StrEnum):
    """What may follow a kind's word in the scenario (`WORD/ARGUMENT`): which field of the
    ProbeSpec it fills, and its key in a probe mapping (`{kind: tcp, port: 80}`)."""

    PORT = "port"  # tcp/80: ProbeSpec.port
    DF_SIZE = "df_size"  # icmp/df/1400: ProbeSpec.size, payload bytes sent with DF set
    NAME = "name"  # dns/c2: ProbeSpec.qname, a DNS name


@dataclass(frozen=True, slots=True, kw_only=True)
class Syntax:
    """How the scenario writes a kind: its word, with its one argument if it takes one."""

    argument: Argument | None = None
    optional: bool = False  # the word alone is a probe too (`icmp` beside `icmp/df/SIZE`)
    order: int = 100  # where it is listed among the kinds (hints, the schema): lowest first


@dataclass(frozen=True, slots=True, kw_only=True)
class Counters:
    """IPv4 counters (/proc/net/snmp and netstat, `Group.Name`) that move for this kind's
    packets: the diagnosis reads them as signs of where a probe got to."""

    request: tuple[str, ...] = ()  # the target took in a request of this kind
    reply: tuple[str, ...] = ()  # the source took in an answer to it
    # The request signs no-route trusts over a whole run's window, when the target's own
    # probes ran too (tcp has none: Tcp.InSegs also counts the answers to those).
    arrived: tuple[str, ...] = ()


class Kind(Protocol):
    """One probe kind. Identifiers are handed out per worker so answers can be told apart:
    `sport` (tcp/udp/dns source port), `ident` and `seq` (echo id/seq, DNS id, IPv4 id),
    `isn` (the TCP initial sequence number)."""

    word: str  # the YAML word, the registry key
    syntax: Syntax  # how the scenario writes it
    link_layer: bool  # an Ethernet frame on the route's interface (ARP/NDP): every answer kept
    needs_listener: bool  # the target answers only if a responder listens on the port
    asks_server: bool  # the packet goes to the task's DNS server, not to the target
    # The probe is the neighbour query itself (ARP who-has, NDP solicitation): nothing is
    # routed, and no reply travels back through the stack.
    resolves_neighbour: bool
    counters: Counters
    refusal: str  # what a refused probe of this kind got back, in a finding's words

    @property
    def ip_proto(self) -> str | None:
        """The IP protocol it travels in, as iptables names it (`udp` for dns); None: not
        IP. (Read-only here, so a kind may set it to a plain string.)"""
        ...

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

    syntax = Syntax()
    link_layer = False
    needs_listener = False
    asks_server = False
    resolves_neighbour = False
    ip_proto: str | None = None
    counters = Counters()
    refusal = "ICMP port unreachable"

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
# The kinds of netcheck/probes/kinds/: every process registers those itself at import.
_SHIPPED: dict[str, Kind] = {}


def register(kind: Kind, *, shipped: bool = False) -> None:
    _KINDS[kind.word] = kind
    if shipped:
        _SHIPPED[kind.word] = kind


def unregister(word: str) -> None:
    _KINDS.pop(word, None)


def registered() -> Mapping[str, Kind]:
    """Every kind by its word, in the order the scenario's hints and schema list them."""
    return dict(sorted(_KINDS.items(), key=lambda item: (item[1].syntax.order, item[0])))


def added() -> tuple[Kind, ...]:
    """Kinds registered at run time, not by a module of this package (a plugin, a test): a
    probe worker is told of them (pool.py), as it registers only the shipped ones itself."""
    return tuple(k for word, k in _KINDS.items() if _SHIPPED.get(word) is not k)


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
