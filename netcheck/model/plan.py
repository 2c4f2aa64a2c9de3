"""The resolved, validated plan of a scenario: frozen, no I/O.

The scenario loader (netcheck.scenario) turns YAML into a `Plan`; runtimes build it, probes
test it, reporters describe it. Names here are the names the user wrote in the YAML.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import ClassVar

from netcheck.errors import Location, ScenarioWarning
from netcheck.model.pickling import by_fields

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def subnet_within(inner: IPNetwork, outer: IPNetwork) -> bool:
    """`inner` lies inside `outer` (False across address families, where ipaddress raises)."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


class Driver(StrEnum):
    MACVLAN = "macvlan"
    IPVLAN = "ipvlan"
    OVERLAY = "overlay"
    BRIDGE = "bridge"


class MacvlanMode(StrEnum):
    BRIDGE = "bridge"
    PRIVATE = "private"
    VEPA = "vepa"
    PASSTHRU = "passthru"


class IpvlanMode(StrEnum):
    L2 = "l2"
    L3 = "l3"


_KIND_WORD = re.compile(r"[a-z][a-z0-9-]*")


class ProbeKind(str):
    """A probe kind's word in the scenario language (`icmp`, the `tcp` of `tcp/80`): the key
    of the kinds' registry, netcheck.probes.kinds. The model holds no list of kinds: a kind
    is one module there, and the scenario loader asks that registry which words exist.

    The shipped words below are names for code that means that one kind (a port's protocol,
    an ARP re-probe); a new kind needs none. There is one object per word, so `is` compares
    kinds as it did enum members, across pickling too.
    """

    __slots__ = ()
    _words: ClassVar[dict[str, ProbeKind]] = {}
    ARP: ClassVar[ProbeKind]
    ICMP: ClassVar[ProbeKind]
    TCP: ClassVar[ProbeKind]
    UDP: ClassVar[ProbeKind]
    DNS: ClassVar[ProbeKind]

    def __new__(cls, word: str) -> ProbeKind:
        known = cls._words.get(word)
        if known is not None:
            return known
        if not isinstance(word, str) or not _KIND_WORD.fullmatch(word):
            raise ValueError(f"{word!r} is not a probe kind word "
                             "(a lowercase letter, then letters, digits or '-')")
        return cls._words.setdefault(str(word), super().__new__(cls, word))

    @property
    def value(self) -> str:
        """The word as a plain string (what an enum's `.value` gave)."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"ProbeKind({str.__repr__(self)})"

    def __reduce__(self) -> tuple[type[ProbeKind], tuple[str]]:
        return ProbeKind, (self.value,)


ProbeKind.ARP = ProbeKind("arp")
ProbeKind.ICMP = ProbeKind("icmp")
ProbeKind.TCP = ProbeKind("tcp")
ProbeKind.UDP = ProbeKind("udp")
ProbeKind.DNS = ProbeKind("dns")


class NodeKind(StrEnum):
    """What a probe source or target is in the topology."""

    ENDPOINT = "endpoint"  # a container
    MACHINE = "machine"  # a plain machine on a lab LAN (a NAS, a database server)
    HOST = "host"  # a container host
    ROUTER = "router"  # a lab router (`router:` or one of `routers:`)
    SERVICE = "service"  # a swarm service: a probe target only (its VIP or its tasks)


# --- lab underlay -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """An extra route on a lab node (`ip route add DST [via VIA] [dev DEV]`)."""

    dst: IPNetwork  # 0.0.0.0/0 for a default route
    via: IPAddress | None = None
    dev: str | None = None
    # The scenario line that asked for it: a route the kernel refuses is named there.
    location: Location | None = field(default=None, compare=False)
    src: IPAddress | None = None  # `src ADDRESS`: the preferred source (RTA_PREFSRC)
    onlink: bool = False  # `onlink`: the gateway is on the link even off every subnet

    def __str__(self) -> str:
        text = str(self.dst)
        if self.via is not None:
            text += f" via {self.via}"
        if self.dev is not None:
            text += f" dev {self.dev}"
        if self.src is not None:
            text += f" src {self.src}"
        if self.onlink:
            text += " onlink"
        return text


# Routing table names as iproute2 spells them (/etc/iproute2/rt_tables).
TABLE_NAMES = {"main": 254, "local": 255, "default": 253}


def table_name(table: int) -> str:
    for name, number in TABLE_NAMES.items():
        if number == table:
            return name
    return str(table)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRule:
    """A routing policy rule: `ip rule add [from SRC] [to DST] [iif DEV] [oif DEV]
    [priority N] table T`. None means "all" (from all, any interface)."""

    table: int
    priority: int | None = None  # None: the kernel picks (just below the last rule)
    src: IPNetwork | None = None
    dst: IPNetwork | None = None
    iif: str | None = None
    oif: str | None = None
    location: Location | None = field(default=None, compare=False)

    @property
    def version(self) -> int:
        for net in (self.src, self.dst):
            if net is not None:
                return net.version
        return 4

    def __str__(self) -> str:
        words = [] if self.priority is None else [f"priority {self.priority}"]
        words.append(f"from {self.src}" if self.src is not None else "from all")
        if self.dst is not None:
            words.append(f"to {self.dst}")
        if self.iif is not None:
            words.append(f"iif {self.iif}")
        if self.oif is not None:
            words.append(f"oif {self.oif}")
        words.append(f"lookup {table_name(self.table)}")
        return " ".join(words)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteTable:
    """An extra routing table: `ip route add ... table ID` for each route."""

    id: int
    routes: tuple[Route, ...]
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtraAddress:
    """One more address on a node: `ip address add ADDRESS/PREFIX dev DEV` (a second
    address on an interface, a service address on lo, an address off the LAN's subnet)."""

    ip: IPAddress
    prefixlen: int
    dev: str
    location: Location | None = field(default=None, compare=False)

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(f"{self.ip}/{self.prefixlen}", strict=False)

    def __str__(self) -> str:
        return f"{self.ip}/{self.prefixlen} dev {self.dev}"


class NudState(StrEnum):
    """The state a static neighbour entry is added in (`ip neigh add ... nud STATE`)."""

    PERMANENT = "permanent"  # never aged, never re-resolved
    NOARP = "noarp"  # valid, never resolved; removed when the interface goes
    REACHABLE = "reachable"  # valid until reachable_time passes, then aged like a learned one
    STALE = "stale"  # used, but the kernel confirms it (delay, probe) at the first send
    DELAY = "delay"  # used; confirmed after delay_first_probe_time
    PROBE = "probe"  # being confirmed now: unicast ARP/NS to the MAC

    @property
    def static(self) -> bool:
        """The kernel never re-resolves it (ip neigh shows PERMANENT / NOARP)."""
        return self in (NudState.PERMANENT, NudState.NOARP)


@dataclass(frozen=True, slots=True, kw_only=True)
class Neighbour:
    """A static neighbour entry: `ip neigh replace IP lladdr MAC dev DEV nud STATE`
    (permanent by default; any other state the kernel ages and may resolve again)."""

    ip: IPAddress
    mac: str
    dev: str
    state: NudState = NudState.PERMANENT
    location: Location | None = field(default=None, compare=False)

    @property
    def permanent(self) -> bool:
        return self.state is NudState.PERMANENT

    def __str__(self) -> str:
        return f"{self.ip} lladdr {self.mac} dev {self.dev} nud {self.state.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStack:
    """A lab node's IP stack beyond its one address per LAN: policy rules and their
    tables, extra addresses, static neighbours, and whether it takes the LAN's gateway as
    its default route."""

    rules: tuple[PolicyRule, ...] = ()
    tables: tuple[RouteTable, ...] = ()
    addresses: tuple[ExtraAddress, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    default_route: bool = True  # False: no `default via <LAN gateway>` is added


class FirewallAction(StrEnum):
    DROP = "drop"  # silently discard (iptables -j DROP)
    REJECT = "reject"  # answer with RST / ICMP port unreachable (iptables -j REJECT)


@dataclass(frozen=True, slots=True, kw_only=True)
class FirewallRule:
    """One packet filter rule in a lab node: `- drop: tcp/5432 from c1`.

    `proto` None means every protocol; `peer` is a node name or a CIDR, resolved to
    addresses when the lab is built (a node's address may come from IPAM).
    """

    action: FirewallAction
    proto: ProbeKind | None = None  # tcp, udp, icmp
    port: int | None = None
    peer: str | None = None  # "from X" on input, "to X" on output
    chain: str = "input"  # input | forward | output

    def __str__(self) -> str:
        what = "all" if self.proto is None else self.proto.value
        if self.port is not None:
            what += f"/{self.port}"
        word = "to" if self.chain == "output" else "from"
        peer = f" {word} {self.peer}" if self.peer else ""
        where = "" if self.chain == "input" else f" ({self.chain})"
        return f"{self.action.value}: {what}{peer}{where}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lan:
    """One L2 segment of the lab's physical network (a LAN, or one VLAN of a trunk)."""

    name: str
    subnet: IPNetwork
    gateway: IPAddress | None  # the router's leg on this LAN, when there is a router
    vlan: int | None = None
    # A real switch does not send a frame back out of the port it came in on; VEPA needs it.
    hairpin: bool = False
    mtu: int = 1500
    location: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterLeg:
    """A router's interface on one LAN (named after the LAN) and the address it holds."""

    lan: str
    ip: IPAddress
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFeatures:
    """What every lab node (router, machine, host) may have besides its links, written once
    here: sysctls written in the node's namespace after its links exist (keys as sysctl(8)
    spells them), routes, packet filter rules, and its IP stack. All optional."""

    sysctls: Mapping[str, str] = field(default_factory=dict)
    # Each sysctl's line in the scenario: a value the kernel refuses is named there.
    sysctl_locations: Mapping[str, Location] = field(default_factory=dict, compare=False)
    routes: tuple[Route, ...] = ()
    firewall: tuple[FirewallRule, ...] = ()
    stack: NodeStack = field(default_factory=NodeStack)


@dataclass(frozen=True, slots=True, kw_only=True)
class Router(NodeFeatures):
    name: str = "router"
    forward: bool = True  # net.ipv4.ip_forward on the router
    location: Location | None = None
    # The LANs it has a leg on (None: every LAN with a gateway).
    lans: tuple[str, ...] | None = None
    # Its legs with their addresses (a `routers:` entry); None: one leg per LAN of `lans`
    # that has a gateway, holding that gateway (the `router:` key). See Lab.legs.
    legs: tuple[RouterLeg, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Port:
    """A port a node listens on, so TCP/UDP probes to it can be answered."""

    proto: ProbeKind  # TCP or UDP
    number: int

    def __str__(self) -> str:
        return f"{self.proto.value}/{self.number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Machine(NodeFeatures):
    """A plain machine on a lab LAN."""

    name: str
    lan: str
    ip: IPAddress
    listen: tuple[Port, ...] = ()
    location: Location | None = None
    mtu: int | None = None  # the machine's eth0 MTU; None: the LAN's
    state: str = "up"  # up | down | no-carrier (eth0's link, as the lab leaves it)


@dataclass(frozen=True, slots=True, kw_only=True)
class Uplink:
    """A host interface wired to a lab LAN: the parent of macvlan/ipvlan networks.

    `ifname` is the name inside the host (e.g. `eth0`, `trunk0.100`); `ip` is the host's own
    address on that LAN, or None for a parent without an address.
    """

    ifname: str
    lan: str
    ip: IPAddress | None = None
    mtu: int | None = None  # None: the LAN's
    # up | down (`ip link set down` in the host) | no-carrier (the switch port is down:
    # the cable is unplugged).
    state: str = "up"
    # The switch port this uplink is wired to reflects frames back out of itself
    # (`bridge link set dev PORT hairpin on`); the LAN's `hairpin` turns it on for every port.
    hairpin: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Shim:
    """A macvlan interface of the host itself on a macvlan parent: the usual way round
    macvlan host isolation. As a user builds it:

        ip link add NAME link PARENT type macvlan mode bridge
        ip addr add IP/32 dev NAME; ip link set NAME up
        ip route add ROUTE dev NAME          # for each route: the containers' ip_range
    """

    name: str
    parent: str
    ip: IPAddress
    routes: tuple[IPNetwork, ...]


VXLAN_PORT = 4789  # the IANA port, Docker's; the kernel's own default would be 8472


@dataclass(frozen=True, slots=True, kw_only=True)
class Vxlan:
    """A raw VXLAN device on a lab host, as a user builds it between two Docker hosts:

        ip link add NAME type vxlan id VNI remote REMOTE local LOCAL dstport PORT dev DEV
        ip link set NAME mtu MTU master br-NET up      # master: the network's bridge
    """

    name: str
    vni: int
    remote: IPAddress  # the peer's underlay address
    remote_host: str | None  # the lab host holding `remote`
    local: IPAddress | None = None  # None: the address of `dev`
    dev: str | None = None  # the underlay uplink
    port: int = VXLAN_PORT  # UDP destination port (dstport); also the port it listens on
    mtu: int | None = None  # None: the kernel's (dev's MTU minus the 50-byte encapsulation)
    master: str | None = None  # a bridge network: the device becomes a port of its bridge
    location: Location | None = None

    def ip_words(self) -> tuple[str, ...]:
        """Its `ip link add ... type vxlan` options as the dry run and the report show them
        (`remote` names the lab host holding the address)."""
        words = [f"id {self.vni}", f"remote {self.remote}"
                 + (f" ({self.remote_host})" if self.remote_host else "")]
        if self.local is not None:
            words.append(f"local {self.local}")
        words.append(f"dstport {self.port}")
        if self.dev is not None:
            words.append(f"dev {self.dev}")
        if self.mtu is not None:
            words.append(f"mtu {self.mtu}")
        return tuple(words)


@dataclass(frozen=True, slots=True, kw_only=True)
class Host(NodeFeatures):
    """A container host. In the lab it is a namespace; `docker_url` points at a real daemon."""

    name: str
    uplinks: tuple[Uplink, ...] = ()
    docker_url: str | None = None  # None: a lab host (or the local daemon for the docker runtime)
    listen: tuple[Port, ...] = ()
    location: Location | None = None
    shims: tuple[Shim, ...] = ()
    vxlans: tuple[Vxlan, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Lab:
    lans: tuple[Lan, ...] = ()
    router: Router | None = None  # `router:`: the lab router
    machines: tuple[Machine, ...] = ()
    hosts: tuple[Host, ...] = ()
    routers: tuple[Router, ...] = ()  # `routers:`: more routers, each with its own legs

    @property
    def all_routers(self) -> tuple[Router, ...]:
        """Every forwarding router of the lab: `router:` first, then `routers:`."""
        return (*((self.router,) if self.router is not None else ()), *self.routers)

    def legs(self, router: Router) -> tuple[RouterLeg, ...]:
        """The router's legs, in LAN order for `router:` (each holds its LAN's gateway)."""
        if router.legs is not None:
            return router.legs
        return tuple(RouterLeg(lan=lan.name, ip=lan.gateway) for lan in self.lans
                     if lan.gateway is not None
                     and (router.lans is None or lan.name in router.lans))

    def lan(self, name: str) -> Lan:
        for lan in self.lans:
            if lan.name == name:
                return lan
        raise KeyError(name)

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


# --- Docker-level networks and containers ---------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Subnet:
    subnet: IPNetwork
    gateway: IPAddress | None = None
    ip_range: IPNetwork | None = None
    aux_addresses: Mapping[str, IPAddress] = field(default_factory=dict)
    # Each Docker daemon runs its own IPAM, so a network created on several hosts gets its
    # own `--ip-range` on each; a host not named here uses `ip_range`.
    host_ranges: Mapping[str, IPNetwork] = field(default_factory=dict)

    def on_host(self, host: str | None) -> Subnet:
        """This subnet as `docker network create` is given it on `host`."""
        own = self.host_ranges.get(host) if host else None
        return self if own is None else replace(self, ip_range=own, host_ranges={})


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """A Docker network: one netcheck creates, or (`external`) one that already exists.

    An external network's facts (driver, subnets, parent, modes, mtu, internal) are Docker's:
    the scenario only names it, and the docker runtime reads them at build time and hands
    them back in `Topology.networks` (`with_networks` puts them into the plan). Until then
    `driver` is None. netcheck never creates, changes or removes an external network.
    """

    name: str  # the scenario's name for it
    driver: Driver | None  # None: external and not read yet, or a driver netcheck does not model
    parent: str | None = None
    macvlan_mode: MacvlanMode | None = None  # set for macvlan (default bridge)
    ipvlan_mode: IpvlanMode | None = None  # set for ipvlan (default l2)
    subnets: tuple[Subnet, ...] = ()
    mtu: int | None = None
    internal: bool = False
    attachable: bool = True
    options: Mapping[str, str] = field(default_factory=dict)  # extra driver options, verbatim
    location: Location | None = None
    external: bool = False  # exists already: adopted, never created, changed or removed
    docker_name: str | None = None  # its name on Docker, when it differs from `name`
    driver_name: str | None = None  # Docker's driver name as read (external networks)

    @property
    def name_on_docker(self) -> str:
        return self.docker_name or self.name

    def on_host(self, host: str | None) -> Network:
        """The network as it is created on `host` (its per-host ip_ranges applied)."""
        if not any(s.host_ranges for s in self.subnets):
            return self
        return replace(self, subnets=tuple(s.on_host(host) for s in self.subnets))


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """An endpoint's membership in one network."""

    network: str
    ip: IPAddress | None = None  # None: allocated by IPAM (the runtime reports the real one)
    aliases: tuple[str, ...] = ()
    # Where it is written: a fixed ip on an external network is checked at build time.
    location: Location | None = None
    # `mac_address:` (docker run --mac-address, per network as Compose): None: Docker's.
    mac: str | None = None
    # `mtu:`: the container's interface MTU apart from the network's (None: the network's).
    mtu: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A container: one netcheck starts, or (`container`) one that already runs.

    An existing container is adopted, never changed: its attachments are empty here (its
    networks and addresses are Docker's, read at build time into the topology), it gets no
    listeners, and netcheck never stops, restarts, renames or execs into it.
    """

    name: str
    host: str | None  # None: the only/default host
    attachments: tuple[Attachment, ...]
    image: str | None = None
    listen: tuple[Port, ...] = ()
    location: Location | None = None
    container: str | None = None  # an existing container's name or id on the host's daemon
    # docker run --dns / --dns-search: the container's resolv.conf (Docker's embedded DNS
    # forwards to `dns` on user-defined networks; on the default bridge it is resolv.conf).
    dns: tuple[IPAddress, ...] = ()
    dns_search: tuple[str, ...] = ()
    # Compose's depends_on: started after these, so IPAM serves them first (start_waves).
    depends_on: tuple[str, ...] = ()


def start_waves(endpoints: tuple[Endpoint, ...] | list[Endpoint]) -> list[list[Endpoint]]:
    """The endpoints in start order, as waves: each one after every endpoint it names in
    `depends_on` (Compose's meaning). A wave holds endpoints whose dependencies have all
    started; within a wave the file's order is kept (the netns runtime's IPAM serves them
    in that order; the docker runtime starts a wave concurrently). Names outside
    `endpoints` count as started; a cycle (refused by validation) ends up in a last wave."""
    names = {ep.name for ep in endpoints}
    done: set[str] = set()
    left = list(endpoints)
    waves: list[list[Endpoint]] = []
    while left:
        wave = [ep for ep in left
                if all(d in done or d not in names for d in ep.depends_on)]
        if not wave:
            wave = left
        waves.append(wave)
        done.update(ep.name for ep in wave)
        left = [ep for ep in left if ep.name not in done]
    return waves


class EndpointMode(StrEnum):
    """How a swarm service is reached by name (`docker service create --endpoint-mode`)."""

    VIP = "vip"  # one virtual IP, load-balanced by IPVS
    DNSRR = "dnsrr"  # the name resolves to the tasks' own addresses


class PublishMode(StrEnum):
    """`--publish ...,mode=`: where a published port answers."""

    INGRESS = "ingress"  # the routing mesh: on every swarm node (IPVS)
    HOST = "host"  # only on the nodes running a task (a DNAT on that node; no IPVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedPort:
    """`--publish 5000:80[/udp]`: the routing mesh answers `published` on every swarm node;
    `mode=host` only on the nodes that run a task."""

    proto: ProbeKind  # TCP or UDP
    published: int
    target: int
    mode: PublishMode = PublishMode.INGRESS

    def __str__(self) -> str:
        text = f"{self.published}:{self.target}/{self.proto.value}"
        return text if self.mode is PublishMode.INGRESS else f"{text} (mode=host)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A swarm service (`docker service create`). A probe target by its name: `to: svc1`
    reaches its VIP (vip mode) or a task's address (dnsrr); a tcp/udp probe to a swarm host
    on a published port goes through the routing mesh."""

    name: str
    networks: tuple[str, ...]  # overlay networks
    replicas: int = 1
    endpoint_mode: EndpointMode = EndpointMode.VIP
    publish: tuple[PublishedPort, ...] = ()
    host: str | None = None  # placement constraint: node.hostname == host
    image: str | None = None
    listen: tuple[Port, ...] = ()
    location: Location | None = None


# --- expectations --------------------------------------------------------------------------


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSpec:
    """What to send. Canonical text form: arp, icmp, icmp/df/1400, tcp/80, udp/53, dns/NAME."""

    kind: ProbeKind
    port: int | None = None  # tcp/udp
    size: int | None = None  # icmp: payload bytes, sent with DF set
    qname: str | None = None  # dns: the name to resolve

    def __str__(self) -> str:
        # The one argument a kind takes, whichever kind it is (the kind's module says which).
        if self.port is not None:
            return f"{self.kind.value}/{self.port}"
        if self.size is not None:
            return f"{self.kind.value}/df/{self.size}"
        if self.qname is not None:
            return f"{self.kind.value}/{self.qname}"
        return self.kind.value


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where a probe goes: a named node, optionally pinned to one of its networks/LANs, or
    a literal address (`to: 10.20.0.5`, or a name from `targets:`) that is no node.

    For a literal target `node` is its label (the `targets:` name, else the address as
    text) and `address` is set: it is a probe target only, nothing netcheck builds.
    """

    node: str
    via: str | None = None  # a network or LAN name: which of the node's addresses to use
    address: IPAddress | None = None  # a literal target's address

    @property
    def literal(self) -> bool:
        return self.address is not None

    def __str__(self) -> str:
        return f"{self.node}@{self.via}" if self.via else self.node


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedTarget:
    """`targets: {db: {address: 10.20.0.5}}`: an address outside the scenario's nodes, named
    once so expectations and reports can say `db`."""

    name: str
    address: IPAddress
    description: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """One expanded expectation: one source, one target, one probe, one expected outcome.

    Group forms in the YAML (mesh, isolated) are expanded by the loader into these.
    """

    id: str  # stable: "icmp:c1->c2", "tcp/80:c1->nas", "icmp:c1@lan->host1"
    source: str
    target: Target
    probe: ProbeSpec
    reachable: bool
    reason: str | None = None  # an expected finding/observation id, e.g. macvlan-host-isolation
    dns_server: str | None = None  # for dns probes: a node name; None = the source's resolver
    description: str | None = None
    location: Location | None = None
    # Source pinning: the probe leaves with the source's address on this network/LAN
    # (`from: c1@net`), or with this very address (`source: 10.0.1.5`).
    source_via: str | None = None
    source_address: IPAddress | None = None
    # dns probes whose `server:` is a literal address or a `targets:` name.
    dns_server_address: IPAddress | None = None

    @property
    def source_label(self) -> str:
        """The source as the id spells it: `c1`, `c1@net`, `c1@10.0.1.5`."""
        if self.source_via is not None:
            return f"{self.source}@{self.source_via}"
        if self.source_address is not None:
            return f"{self.source}@{self.source_address}"
        return self.source


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    name: str
    source: str  # the scenario file path
    description: str | None
    lab: Lab
    networks: tuple[Network, ...]
    endpoints: tuple[Endpoint, ...]
    expectations: tuple[Expectation, ...]
    runtime: str | None = None  # the scenario's preferred runtime; CLI --runtime wins
    image: str | None = None  # default container image
    variables: Mapping[str, str] = field(default_factory=dict)  # as resolved
    services: tuple[Service, ...] = ()
    targets: tuple[NamedTarget, ...] = ()  # named outside addresses (`targets:`)
    # Doubts that do not stop a run (a literal target no network of its source reaches),
    # printed by `validate` and `run` with their file:line.
    warnings: tuple[ScenarioWarning, ...] = ()

    def network(self, name: str) -> Network:
        for net in self.networks:
            if net.name == name:
                return net
        raise KeyError(name)

    def adopted(self) -> list[str]:
        """What the plan uses but does not create: external networks, existing containers
        (as "network X" / "container Y" for messages)."""
        return [f"network '{n.name}'" for n in self.networks if n.external] + [
            f"endpoint '{e.name}' (container {e.container})"
            for e in self.endpoints if e.container is not None
        ]

    def with_networks(self, found: Mapping[str, Network]) -> Plan:
        """The plan with external networks as the runtime read them (driver, subnets...)."""
        if not found:
            return self
        return replace(self, networks=tuple(found.get(n.name, n) for n in self.networks))

    def endpoint(self, name: str) -> Endpoint:
        for ep in self.endpoints:
            if ep.name == name:
                return ep
        raise KeyError(name)

    def node_kind(self, name: str) -> NodeKind | None:
        if any(ep.name == name for ep in self.endpoints):
            return NodeKind.ENDPOINT
        if any(m.name == name for m in self.lab.machines):
            return NodeKind.MACHINE
        if any(h.name == name for h in self.lab.hosts):
            return NodeKind.HOST
        if any(r.name == name for r in self.lab.all_routers):
            return NodeKind.ROUTER
        if any(s.name == name for s in self.services):
            return NodeKind.SERVICE
        return None

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    def routing_mesh(self) -> dict[str, Service]:
        """Expectation id -> the service whose port, published through the routing mesh, a
        probe to a host hits. (A `mode=host` port is a plain DNAT on a task's node.)"""
        published = {
            (p.proto, p.published): s
            for s in self.services
            for p in s.publish
            if p.mode is PublishMode.INGRESS
        }
        hosts = {h.name for h in self.lab.hosts}
        out: dict[str, Service] = {}
        for exp in self.expectations:
            svc = published.get((exp.probe.kind, exp.probe.port or 0))
            if svc is not None and not exp.target.literal and exp.target.node in hosts:
                out[exp.id] = svc
        return out
