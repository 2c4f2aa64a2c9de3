"""What came out of a run: built topology, probe observations, findings, verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from netcheck.model.pickling import by_fields
from netcheck.model.plan import (
    EndpointMode,
    IPAddress,
    IPNetwork,
    Network,
    NodeKind,
    Port,
    ProbeSpec,
)
from netcheck.model.sites import ProbeSite, SiteNotLocal

# --- the built topology (what a runtime hands to probes and diagnosis) -----------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Interface:
    """One interface of a built node, as it exists in the node's namespace."""

    ifname: str
    network: str  # the network or LAN name this interface sits on
    address: IPAddress | None
    prefix: IPNetwork | None  # the on-link subnet
    mac: str | None = None
    kind: str | None = None  # veth, macvlan, ipvlan, bridge...
    parent: str | None = None  # "<host>:<ifname>" for macvlan/ipvlan children
    mode: str | None = None  # macvlan/ipvlan mode


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A place probes can be sent from or to."""

    name: str
    kind: NodeKind
    site: ProbeSite  # where its probes run (a namespace path, a container, a sidecar)
    interfaces: tuple[Interface, ...]
    host: str | None = None  # for endpoints: the host they run on
    listen: tuple[Port, ...] = ()
    resolver: IPAddress | None = None  # DNS server this node uses (Docker: 127.0.0.11)
    adopted: bool = False  # an existing container netcheck probes from but did not create

    @property
    def netns(self) -> str:
        """The namespace path on this machine, for reading live state; SiteNotLocal (an
        OSError) when the namespace is on another machine."""
        path = self.site.netns
        if path is None:
            raise SiteNotLocal(f"{self.name}: {self.site} is not on this machine")
        return path

    def address_on(self, network: str) -> IPAddress | None:
        for iface in self.interfaces:
            if iface.network == network and iface.address is not None:
                return iface.address
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceTask:
    """One running task of a swarm service: the lab host it landed on (None: the machine's
    own daemon) and its addresses, one per service network in the service's order."""

    host: str | None
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRecord:
    """A swarm service as the run found it running."""

    name: str
    mode: EndpointMode
    tasks: tuple[ServiceTask, ...]
    vips: Mapping[str, IPAddress] = field(default_factory=dict)  # network -> virtual IP


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerEnvironment:
    """The Docker daemon a run talked to (the first one, in lab mode)."""

    server_version: str
    api_version: str
    mode: str  # "lab": one dockerd per lab host; "host": the machine's or DOCKER_HOST's


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    """Where a run ran."""

    kernel: str
    hostname: str
    netcheck_version: str
    python: str
    docker: DockerEnvironment | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """What the runtime built. Runtimes fill `skipped` with expectation ids they cannot build."""

    run_id: str
    runtime: str
    nodes: Mapping[str, Node]
    # Free-form display text (kernel features, build timings, ...): shown in the reports,
    # never parsed. Whatever a reader needs has a typed field below.
    facts: Mapping[str, str] = field(default_factory=dict)
    # External networks as the runtime read them from Docker (driver, subnets, parent...),
    # by scenario name: what the run found, not what it made.
    networks: Mapping[str, Network] = field(default_factory=dict)
    services: Mapping[str, ServiceRecord] = field(default_factory=dict)
    docker: DockerEnvironment | None = None
    # Every namespace the netns runtime made (the lab switch "sw", router, machines, hosts,
    # its endpoints), by node key -> path.
    lab_netns: Mapping[str, str] = field(default_factory=dict)


# --- probe observations ----------------------------------------------------------------------


class Observation(StrEnum):
    """What a probe saw. Only ERROR means "could not test"."""

    ANSWERED = "answered"  # echo reply, SYN-ACK, UDP reply, ARP reply, DNS NOERROR answer
    REFUSED = "refused"  # TCP RST or ICMP port-unreachable: host reached, port closed
    ICMP_ERROR = "icmp-error"  # another ICMP error (host/net unreachable, frag needed, ...)
    DNS_ERROR = "dns-error"  # the server answered with an error rcode (NXDOMAIN, SERVFAIL...)
    CONFLICT = "conflict"  # ARP: more than one MAC answered
    SILENT = "silent"  # the packet left and nothing came back before the timeout
    TOO_BIG = "too-big"  # DF probe: the local stack refused it (EMSGSIZE)
    ERROR = "error"  # could not send: no route, no interface, worker crashed...


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class Packet:
    """A packet as evidence: a one-line summary plus who sent it."""

    summary: str
    src: str | None = None
    dst: str | None = None
    time: float | None = None  # seconds since the probe started


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    probe_id: str  # the expectation id this result answers
    source: str
    target: str
    target_address: IPAddress | None
    probe: ProbeSpec
    observation: Observation
    detail: str  # one line: "echo reply from 10.0.0.3 in 0.41 ms", "no route to host"
    rtt_ms: float | None = None
    sent: tuple[Packet, ...] = ()
    received: tuple[Packet, ...] = ()
    answered_by: tuple[str, ...] = ()  # MACs (arp) or addresses that answered
    source_interface: str | None = None
    source_address: IPAddress | None = None

    @property
    def reached(self) -> bool:
        return self.observation is Observation.ANSWERED


# --- diagnosis -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    id: str  # macvlan-host-isolation, rp-filter, no-route, ...
    summary: str  # one line
    evidence: tuple[str, ...]
    fix: str | None = None
    # "the drop at r1": the packet-path walk saw the packet die where this finding says.
    confirmed_by: str | None = None


# --- where the packet died -------------------------------------------------------------------


class HopState(StrEnum):
    """What was observed of one probe's packet at one place on its path."""

    SEEN = "seen"  # a counter of that namespace moved while the probe was re-sent alone
    DROPPED = "dropped"  # the kernel dropped it there (a drop reason or a drop counter)
    NOT_REACHED = "not-reached"  # readable there, and nothing moved: it never arrived
    NOT_OBSERVED = "not-observed"  # nothing could be read there: no observation either way


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One place on a probe's path (a namespace: source, router, host, target)."""

    node: str  # topology node name, or an address no node holds
    state: HopState
    iif: str | None = None  # the interface the packet arrives on (None at the source)
    direction: str = "request"  # "request" (towards the target) or "reply"
    reason: str | None = None  # the kernel's drop reason (skb:kfree_skb), when traced
    location: str | None = None  # the kernel function that dropped it
    counter: str | None = None  # or the drop counter that moved there ("Ip.OutNoRoutes +1")
    evidence: tuple[str, ...] = ()  # what was read: counter deltas, drop events, lookups


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketPath:
    """Where a silent or refused probe's packet went, hop by hop, as observed."""

    hops: tuple[Hop, ...]
    note: str | None = None  # how it was observed, or why it could not be

    @property
    def dropped_at(self) -> Hop | None:
        return next((h for h in self.hops if h.state is HopState.DROPPED), None)

    @property
    def last_seen(self) -> Hop | None:
        seen = [h for h in self.hops if h.state in (HopState.SEEN, HopState.DROPPED)]
        return seen[-1] if seen else None


# --- verdicts --------------------------------------------------------------------------------


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105  (an outcome, not a password)
    FAIL = "fail"  # the expectation was not met
    ERROR = "error"  # could not test
    SKIP = "skip"  # not tested, with a reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    expectation_id: str
    outcome: Outcome
    message: str  # "expected reachable, observed silent (no echo reply in 1.0 s)"
    expected: str  # "reachable" / "unreachable" (+ reason)
    observed: str  # the observation, or the skip/error reason
    result: ProbeResult | None = None
    findings: tuple[Finding, ...] = ()
    duration_s: float = 0.0
    path: PacketPath | None = None  # silent/refused probes: where the packet died


# --- the whole run ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineRef:
    """The baseline a run was compared with, and what the comparison said."""

    run_id: str
    regressions: int
    diff: tuple[str, ...]  # the diff, one line per change (baseline.diff.diff_lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """Everything a reporter needs; the JSON report is this, serialised in full."""

    run_id: str
    scenario: str  # plan name
    source: str  # scenario file
    runtime: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    phase_s: Mapping[str, float]  # build, probe, diagnose, teardown
    facts: Mapping[str, str]  # display text only (see Topology.facts)
    verdicts: tuple[Verdict, ...]
    topology: Topology | None = None
    timeout_s: float = 1.0
    environment: Environment | None = None  # None only in records built by hand (tests)
    baseline: BaselineRef | None = None  # set when the run was compared with a baseline

    def counts(self) -> dict[Outcome, int]:
        out = dict.fromkeys(Outcome, 0)
        for v in self.verdicts:
            out[v.outcome] += 1
        return out

    @property
    def ok(self) -> bool:
        return all(v.outcome in (Outcome.PASS, Outcome.SKIP) for v in self.verdicts)
