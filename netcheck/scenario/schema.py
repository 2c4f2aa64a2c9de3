"""The scenario format as pydantic models: the YAML edge. Nothing past the loader sees these.

Values with a small language of their own (addresses, subnets, ports, probes) are parsed
here by `values`; cross-field rules (an address inside its subnet, references) live in
`resolve`/`checks`, where every object's line is at hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, NoReturn, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from netcheck.model.plan import (
    Driver,
    EndpointMode,
    FirewallRule,
    IPAddress,
    IPNetwork,
    IpvlanMode,
    MacvlanMode,
    NudState,
    Port,
    ProbeSpec,
    PublishedPort,
    Route,
)
from netcheck.probes.kinds import Argument
from netcheck.scenario import containers, labfeatures, stackvalues, values
from netcheck.scenario.values import ValueProblem, describe

T = TypeVar("T")
ERROR_TYPE = "netcheck"


def fail(message: str, hint: str | None = None) -> NoReturn:
    # The message goes through ctx: user text may hold braces the template would eat.
    ctx: dict[str, Any] = {"message": message}
    if hint:
        ctx["hint"] = hint
    raise PydanticCustomError(ERROR_TYPE, "{message}", ctx)


def _wrap(parse: Callable[[object], T]) -> Callable[[object], T]:
    def validate(value: object) -> T:
        try:
            return parse(value)
        except ValueProblem as problem:
            fail(problem.message, problem.hint)

    return validate


def _no_bool(value: object) -> object:
    # pydantic's lax mode reads `vlan: true` as 1; YAML users mean a mistake.
    if isinstance(value, bool):
        fail(f"expected a number, got {describe(value)}")
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str | dict) else value


def _option_text(value: object) -> object:
    # Docker options are strings; YAML reads `true`/`1400` as bool/int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


_STRING = {"type": "string"}

Name = Annotated[str, PlainValidator(_wrap(values.parse_name)), WithJsonSchema(
    {"type": "string", "pattern": values.NAME_RE.pattern}
)]
IfName = Annotated[str, PlainValidator(_wrap(values.parse_ifname)), WithJsonSchema(
    {"type": "string", "description": "interface name on the host, e.g. eth0, trunk0.100"}
)]
IP = Annotated[IPAddress, PlainValidator(_wrap(values.parse_ip)), WithJsonSchema(
    {"type": "string", "description": "an IPv4 or IPv6 address"}
)]
CIDR = Annotated[IPNetwork, PlainValidator(_wrap(values.parse_network)), WithJsonSchema(
    {"type": "string", "description": "a subnet in CIDR form, e.g. 172.16.86.0/24"}
)]
PortText = Annotated[Port, PlainValidator(_wrap(values.parse_port)), WithJsonSchema(
    {"type": "string", "pattern": r"^((tcp|udp)/[0-9]+|[0-9]+/(tcp|udp))$",
     "description": "tcp/PORT or udp/PORT"}
)]
PublishText = Annotated[PublishedPort, PlainValidator(_wrap(values.parse_publish)),
                        WithJsonSchema({"type": "string",
                                        "pattern": r"^([0-9]+:[0-9]+(/(tcp|udp))?"
                                                   r"|([a-z]+=[a-z0-9]+,?)+)$",
                                        "description": "PUBLISHED:TARGET[/udp], or "
                                                       "published=P,target=T[,mode=host], as "
                                                       "docker service create --publish"})]
Int = Annotated[int, BeforeValidator(_no_bool)]
Mtu = Annotated[int, BeforeValidator(_no_bool), Field(ge=68, le=65535)]

# The probe's schema is made each time a schema is asked for, from the kinds' registry: a
# kind is one module in netcheck/probes/kinds, and one registered later (a test) shows too.
_ARGUMENT_SCHEMAS: dict[Argument, dict[str, Any]] = {
    Argument.PORT: {"type": "integer", "minimum": 1, "maximum": 65535},
    Argument.DF_SIZE: {"type": "integer", "minimum": 0},
    Argument.NAME: {"type": "string"},
}


def probe_json_schema() -> dict[str, Any]:
    forms = values.probe_forms()
    arguments = {s.argument for s in values.probe_syntax().values() if s.argument is not None}
    return {
        "anyOf": [
            {
                "type": "string",
                "pattern": f"^({'|'.join(values.probe_forms(pattern=True))})$",
                "description": f"{', '.join(forms[:-1])} or {forms[-1]}",
            },
            {
                "type": "object",
                "properties": {
                    "kind": {"enum": values.probe_kinds()},
                    **{a.value: _ARGUMENT_SCHEMAS[a] for a in Argument if a in arguments},
                },
                "required": ["kind"],
                "additionalProperties": False,
            },
        ]
    }


class _ProbeJsonSchema:
    """One probe, or (`many`) one or a list of them, as the JSON Schema says it."""

    def __init__(self, *, many: bool) -> None:
        self.many = many

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        one = probe_json_schema()
        if not self.many:
            return one
        return {"anyOf": [one, {"type": "array", "items": probe_json_schema(), "minItems": 1}]}


Probe = Annotated[ProbeSpec, PlainValidator(_wrap(values.parse_probe)),
                  _ProbeJsonSchema(many=False)]
Probes = Annotated[
    list[Probe],
    BeforeValidator(_one_or_many),
    Field(min_length=1),
    _ProbeJsonSchema(many=True),
]
_TO_ITEM = {"type": "string", "description": "a node, node@network, a name from targets:, "
                                             "or a literal IPv4/IPv6 address"}
ToTargets = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    Field(min_length=1),
    WithJsonSchema({"anyOf": [_TO_ITEM, {"type": "array", "items": _TO_ITEM, "minItems": 1}]}),
]
_FROM_ITEM = {"type": "string", "description": "a node, or node@network: the probe leaves "
                                               "with the node's address on that network"}
FromSources = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    Field(min_length=1),
    WithJsonSchema({"anyOf": [_FROM_ITEM,
                              {"type": "array", "items": _FROM_ITEM, "minItems": 1}]}),
]


class Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, frozen=True, populate_by_name=False
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        """`listen:` with nothing after it means the default (an empty list), not null."""
        if not isinstance(data, dict):
            return data
        defaults_not_null = {
            (f.alias or name)
            for name, f in cls.model_fields.items()
            if not f.is_required() and f.get_default(call_default_factory=True) is not None
        }
        return {k: v for k, v in data.items() if not (v is None and k in defaults_not_null)}


# --- lab node features (sysctls, routes, firewall, link state) ---------------------------------

Sysctls = Annotated[dict[str, str], PlainValidator(_wrap(labfeatures.parse_sysctls)),
                    WithJsonSchema({
                        "type": "object",
                        "additionalProperties": {"type": ["string", "integer", "boolean"]},
                        "description": "sysctls in the node's namespace, e.g. "
                                       "net.ipv4.conf.eth1.rp_filter: 1",
                    })]
_ROUTE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "DST via ADDRESS [dev IF] [src ADDRESS] [onlink], "
                                          "DST dev IF, or default via ADDRESS"},
        {"type": "object", "properties": {
            "dst": _STRING, "via": _STRING, "dev": _STRING,
            "src": {"type": "string", "description": "the preferred source address (src)"},
            "onlink": {"type": "boolean",
                       "description": "the gateway is on the link though off every subnet"}},
         "required": ["dst"], "additionalProperties": False},
    ]
}
RouteItem = Annotated[Route, PlainValidator(_wrap(labfeatures.parse_route)),
                      WithJsonSchema(_ROUTE_SCHEMA)]
FirewallItem = Annotated[FirewallRule, PlainValidator(_wrap(labfeatures.parse_firewall_rule)),
                         WithJsonSchema({
                             "type": "object",
                             "properties": {"drop": _STRING, "reject": _STRING,
                                            "chain": {"enum": list(labfeatures.CHAINS)}},
                             "additionalProperties": False,
                             "description": "drop: tcp/5432 from c1 | reject: udp/53 | "
                                            "drop: icmp (chain: forward)",
                         })]
LinkState = Annotated[str, PlainValidator(_wrap(labfeatures.parse_link_state)),
                      WithJsonSchema({"enum": list(labfeatures.LINK_STATES)})]


# --- a node's IP stack: policy rules, tables, addresses, neighbours (ip rule/route/addr/neigh)

Prefix = Annotated[IPNetwork, PlainValidator(_wrap(stackvalues.parse_prefix)), WithJsonSchema(
    {"type": "string", "description": "an address (one host: /32, /128) or a subnet"}
)]
_TABLE_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": 1, "maximum": stackvalues.MAX_TABLE},
              {"type": "string", "pattern": r"^([0-9]+|main|local|default)$"}],
    "description": "a routing table: a number, or main, local, default",
}
TableRef = Annotated[int, PlainValidator(_wrap(stackvalues.parse_table)),
                     WithJsonSchema(_TABLE_SCHEMA)]
Priority = Annotated[int, PlainValidator(_wrap(stackvalues.parse_priority)), WithJsonSchema(
    {"type": "integer", "minimum": 0, "maximum": stackvalues.MAX_PRIORITY,
     "description": "the rule's priority (lower is looked at first)"}
)]
Mac = Annotated[str, PlainValidator(_wrap(stackvalues.parse_mac)), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$",
     "description": "a MAC address, e.g. 02:42:0a:33:00:01"}
)]
Duplicate = Annotated[bool, PlainValidator(_wrap(stackvalues.parse_duplicate)), WithJsonSchema(
    {"enum": ["allowed"], "description": "duplicate: allowed lets another node hold this "
                                         "address too (a deliberate duplicate, or a VIP)"}
)]
AddressItem = Annotated[
    tuple[IPAddress, int, str | None, bool],
    PlainValidator(_wrap(stackvalues.parse_address)),
    WithJsonSchema({"anyOf": [
        {"type": "string", "description": "ADDRESS[/PREFIX] [dev IF], as ip address add: "
                                          "10.51.0.11/24 dev eth0, 192.0.2.53/32 dev lo"},
        {"type": "object", "properties": {
            "address": {"type": "string", "description": "ADDRESS[/PREFIX]; no prefix: one "
                                                         "address (/32, /128)"},
            "dev": {"type": "string", "description": "the interface (lo for a service "
                                                     "address); default: the node's only one"},
            "duplicate": {"enum": ["allowed"], "description": "another node may hold it too"}},
         "required": ["address"], "additionalProperties": False},
    ]}),
]


class RuleSpec(Spec):
    """A routing policy rule, as `ip rule add from 10.51.0.10 table 100 priority 100`."""

    from_: Prefix | None = Field(None, alias="from",
                                 description="the source address or subnet (default: all)")
    to: Prefix | None = Field(None, description="the destination address or subnet")
    iif: IfName | None = Field(None, description="packets arriving on this interface")
    oif: IfName | None = Field(None, description="packets sent out of this interface")
    table: TableRef = Field(description="the table to look up: one of `tables:`, or main")
    priority: Priority | None = Field(None, description="lower first; default: the kernel's")


NudWord = Annotated[NudState, PlainValidator(_wrap(stackvalues.parse_nud)), WithJsonSchema(
    {"enum": [s.value for s in NudState],
     "description": "nud STATE: permanent (default), noarp, reachable, stale, delay, probe"}
)]


class NeighbourSpec(Spec):
    """A static neighbour entry, as `ip neigh replace IP lladdr MAC dev DEV nud STATE`."""

    ip: IP
    mac: Mac
    dev: IfName | None = Field(None, description="default: the interface on ip's subnet")
    state: NudWord | None = Field(
        None, description="the entry's state (ip neigh ... nud STATE): permanent (the "
                          "default) and noarp stay; reachable, stale, delay, probe age and "
                          "the kernel may resolve the address again")
    permanent: bool | None = Field(None, description="true: nud permanent; false: nud "
                                                     "reachable (the same as state:)")


TablesSpec = Annotated[
    dict[Annotated[int, PlainValidator(_wrap(stackvalues.parse_table))], list[RouteItem]],
    WithJsonSchema({
        "type": "object",
        "propertyNames": {"pattern": "^[0-9]+$"},
        "additionalProperties": {"type": "array", "items": _ROUTE_SCHEMA},
        "description": "extra routing tables by number: each route is added with table N "
                       "(ip route add ... table N); rules: send traffic to them",
    }),
]


class NodeFeatures(Spec):
    sysctls: Sysctls = {}
    routes: list[RouteItem] = []
    firewall: list[FirewallItem] = []
    rules: list[RuleSpec] = Field([], description="routing policy rules (ip rule add)")
    tables: TablesSpec = {}
    addresses: list[AddressItem] = Field(
        [], description="more addresses (ip address add): a second one on an interface, one "
                        "on lo, one off the LAN's subnet (give it an on-link route)"
    )
    neighbours: list[NeighbourSpec] = Field(
        [], description="static ARP/ND entries (ip neigh replace ... nud STATE)"
    )


# --- lab -----------------------------------------------------------------------------------


class LanSpec(Spec):
    """One L2 segment of the lab (a LAN, or one VLAN of a trunk)."""

    subnet: CIDR
    gateway: IP | None = Field(None, description="the router's leg on this LAN")
    vlan: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=4094)] | None = None
    hairpin: bool = False
    mtu: Mtu = 1500


class RouterSpec(NodeFeatures):
    name: Name = "router"
    forward: bool = True
    lans: list[str] | None = Field(
        None, description="the LANs the router has a leg on (default: every LAN with a "
                          "gateway); another LAN's gateway may be another node's address"
    )


RouterLegs = Annotated[
    list[str] | dict[str, IP | None],
    Field(min_length=1),
    WithJsonSchema({"anyOf": [
        {"type": "array", "items": {"type": "string"}, "minItems": 1,
         "description": "LAN names: a leg on each, holding the LAN's gateway"},
        {"type": "object", "minProperties": 1,
         "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]},
         "description": "LAN name -> the leg's address on it (empty: the LAN's gateway)"},
    ]}),
]


class RoutersItemSpec(NodeFeatures):
    """One router of `routers:`: a namespace with a leg on each LAN it names, forwarding
    between them (lab.routers: [{name: r1, lans: [a, t]}, ...])."""

    name: Name = Field(description="the router's name (a node name: a probe source/target)")
    forward: bool = Field(True, description="net.ipv4.ip_forward (and IPv6 forwarding)")
    lans: RouterLegs = Field(
        description="its legs: [a, t] (each holds the LAN's gateway) or {t: 10.61.0.2, "
                    "b: } (an address of its own on t, b's gateway on b)"
    )


class MachineSpec(NodeFeatures):
    """A plain machine on a LAN (a NAS, a database server)."""

    lan: str
    ip: IP
    listen: list[PortText] = []
    mtu: Mtu | None = Field(None, description="eth0's MTU; default: the LAN's")
    state: LinkState = "up"
    duplicate: Duplicate = False
    default_route: bool = Field(True, description="false: no default route via the LAN's "
                                                  "gateway (give routes: your own, or none)")


class UplinkSpec(Spec):
    ifname: IfName
    lan: str
    ip: IP | None = None
    mtu: Mtu | None = Field(None, description="the interface MTU; default: the LAN's")
    state: LinkState = Field(
        "up", description="up, down (ip link set down) or no-carrier (cable unplugged)"
    )
    duplicate: Duplicate = False
    hairpin: bool = Field(
        False, description="the switch port of this uplink sends frames back out of itself "
        "(bridge link set dev PORT hairpin on; reflective relay, for macvlan vepa)",
    )


class ShimSpec(Spec):
    """A macvlan interface on the host itself, so the host reaches its macvlan containers."""

    parent: IfName = Field(description="the uplink the containers' macvlan network hangs off")
    ip: IP = Field(description="a spare address for the shim (added as /32 or /128)")
    routes: Annotated[list[CIDR], Field(min_length=1)] = Field(
        description="what the host reaches through the shim: the containers' ip_range"
    )


class VxlanSpec(Spec):
    """A raw VXLAN device on the host: ip link add NAME type vxlan id VNI remote REMOTE
    [local LOCAL] dstport PORT dev DEV, then mtu MTU master br-NET."""

    vni: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=16777215)] = Field(
        description="the VXLAN network identifier (ip link ... type vxlan id VNI)"
    )
    remote: str = Field(
        description="the peer (remote): another lab host's name or its underlay address"
    )
    local: IP | None = Field(
        None, description="the source address of the encapsulated packets; default: dev's"
    )
    dev: IfName | None = Field(
        None, description="the underlay uplink; default: the uplink on the remote's LAN"
    )
    port: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=65535)] = Field(
        4789, description="UDP destination port (dstport), also the port it listens on; "
        "default 4789 (IANA, Docker's); Linux's own default would be 8472",
    )
    mtu: Mtu | None = Field(
        None, description="the VXLAN device's MTU; default: dev's MTU minus 50, as the kernel "
        "sets it",
    )
    master: str | None = Field(
        None, description="a bridge network on this host: the device becomes a port of its "
        "bridge, so the containers on it share one L2 with the remote host's",
    )


class HostSpec(NodeFeatures):
    """A container host with uplinks into the lab's LANs."""

    uplinks: list[UplinkSpec] = []
    shims: dict[IfName, ShimSpec] = Field(
        {}, description="macvlan shims on the host (the fix for macvlan host isolation)"
    )
    docker: str | None = Field(
        None, description="a remote Docker daemon: ssh://user@host, tcp://host:2376, unix://..."
    )
    listen: list[PortText] = []
    default_route: bool = Field(True, description="false: no default route via the first "
                                                  "uplink LAN's gateway")
    vxlan: dict[IfName, VxlanSpec] = Field(
        {}, description="raw VXLAN devices between lab hosts, by interface name (overlay "
        "without swarm)",
    )


class LabSpec(Spec):
    lans: dict[Name, LanSpec] = {}
    router: RouterSpec | None = Field(None, description="a router with one leg per LAN")
    machines: dict[Name, MachineSpec] = {}
    hosts: dict[Name, HostSpec] = {}
    routers: list[RoutersItemSpec] = Field(
        [], description="more routers, each named with its own legs (routers in series, a "
                        "router on some LANs only); router: keeps its meaning"
    )

    @model_validator(mode="before")
    @classmethod
    def _router_key_means_router(cls, data: Any) -> Any:
        # `router:` alone reads as null; writing the key means "I want a router".
        if isinstance(data, dict) and "router" in data and data["router"] is None:
            return {**data, "router": {}}
        return data


# --- networks and endpoints ----------------------------------------------------------------


class SubnetSpec(Spec):
    subnet: CIDR
    gateway: IP | None = None
    ip_range: CIDR | dict[Name, CIDR] | None = Field(
        None,
        description="the addresses IPAM hands out (--ip-range); a map of lab host to range "
        "gives each host's daemon its own slice, as separate `docker network create` runs do",
    )
    aux_addresses: dict[str, IP] = {}


class NetworkSpec(Spec):
    """A Docker network (`docker network create`), or with `external: true` one that already
    exists, as Compose spells it: netcheck reads its driver, subnets, gateways, ranges,
    parent, mode, mtu and internal flag from Docker and never creates, changes or removes it."""

    external: bool = Field(
        False,
        description="the network exists already (Compose's spelling): netcheck attaches its "
        "probe containers to it and reads every other setting from Docker; give no driver, "
        "subnets, parent or options with it",
    )
    name: str | None = Field(
        None,
        description="external networks: the network's name (or id) on Docker, when it "
        "differs from the key",
    )
    driver: Driver = Driver.BRIDGE
    parent: IfName | None = None
    macvlan_mode: MacvlanMode | None = None
    ipvlan_mode: IpvlanMode | None = None
    subnets: list[SubnetSpec] = []
    mtu: Mtu | None = None
    internal: bool = False
    attachable: bool = True
    options: dict[str, Annotated[str, BeforeValidator(_option_text)]] = Field(
        {}, description="driver options, passed verbatim (docker network create -o)"
    )


UnicastMac = Annotated[str, PlainValidator(_wrap(containers.parse_unicast_mac)),
                      WithJsonSchema({"type": "string",
                                      "pattern": r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$",
                                      "description": "a unicast MAC address, e.g. "
                                                     "02:42:0a:33:00:01"})]
_DOMAIN = {"type": "string", "description": "a search domain, e.g. lab.example"}
DnsSearch = Annotated[
    list[Annotated[str, PlainValidator(_wrap(containers.parse_domain)),
                   WithJsonSchema(_DOMAIN)]],
    BeforeValidator(containers.one_or_many),
    WithJsonSchema({"anyOf": [_DOMAIN, {"type": "array", "items": _DOMAIN}],
                    "description": "docker run --dns-search: the search domains of the "
                                   "container's resolv.conf (docker runtime; dns probes "
                                   "ask a name as written, the netns runtime writes no "
                                   "resolv.conf)"}),
]
_DNS_ITEM = {"type": "string", "description": "a DNS server's IPv4 or IPv6 address"}
DnsServers = Annotated[
    list[IP], BeforeValidator(containers.one_or_many),
    WithJsonSchema({"anyOf": [_DNS_ITEM, {"type": "array", "items": _DNS_ITEM}],
                    "description": "docker run --dns: the container's DNS servers. On a "
                                   "user-defined network Docker's embedded DNS "
                                   "(127.0.0.11) forwards to them; on the default bridge "
                                   "and in the netns runtime the container asks them itself "
                                   "(dns probes without server: ask the first)"}),
]
_DEP_ITEM = {"type": "string", "description": "an endpoint's name"}
DependsOn = Annotated[
    list[str], BeforeValidator(containers.one_or_many),
    WithJsonSchema({"anyOf": [_DEP_ITEM, {"type": "array", "items": _DEP_ITEM}],
                    "description": "Compose's depends_on: start after these endpoints, so "
                                   "on a network they share IPAM hands them their addresses "
                                   "first (the first free address of a range goes to the "
                                   "first started)"}),
]
_CONTAINER_MTU = ("the container's interface MTU apart from the network's (set inside the "
                  "container after it starts); at most the network's (or its parent's)")


class AttachmentSpec(Spec):
    ip: IP | None = None
    aliases: list[str] = []
    mac_address: UnicastMac | None = Field(
        default=None, description="this interface's MAC (docker network connect --mac-address; "
                          "Compose's per-network mac_address)"
    )
    mtu: Mtu | None = Field(default=None, description=_CONTAINER_MTU)


def _list_or_map(value: Any) -> str | None:
    if isinstance(value, list):
        return "<list>"
    if isinstance(value, dict):
        return "<map>"
    return None


NetworkRefs = Annotated[
    Annotated[list[str], Tag("<list>"), Field(min_length=1)]
    | Annotated[dict[str, AttachmentSpec | None], Tag("<map>"), Field(min_length=1)],
    Discriminator(
        _list_or_map,
        custom_error_type="list_or_map",
        custom_error_message=(
            "expected a list of network names or a mapping of name to ip and aliases"
        ),
    ),
]


class EndpointSpec(Spec):
    """A container netcheck starts, or (`container:`) one that already runs."""

    host: str | None = Field(None, description="a lab host; optional with 0 or 1 host")
    container: str | None = Field(
        None,
        description="an existing container (name or id) on the host's Docker daemon: probes "
        "run in its network namespace, its networks and addresses come from Docker, and "
        "netcheck never stops, restarts, renames or execs into it (no networks, image or "
        "listen with it)",
    )
    networks: NetworkRefs | None = None
    image: str | None = None
    listen: list[PortText] = []
    dns: DnsServers = []
    dns_search: DnsSearch = []
    depends_on: DependsOn = []
    mtu: Mtu | None = Field(None, description=_CONTAINER_MTU + "; on every network without "
                                                               "its own mtu")
    mac_address: UnicastMac | None = Field(
        None, description="docker run --mac-address: the MAC on the first network"
    )


class ServiceSpec(Spec):
    """A swarm service (`docker service create`): a probe target by its name.

    `to: svc` reaches its VIP (vip) or a task (dnsrr); a tcp/udp probe to a swarm host on a
    published port goes through the routing mesh.
    """

    networks: Annotated[list[str], BeforeValidator(_one_or_many), Field(min_length=1)] = Field(
        description="overlay networks (docker service create --network)"
    )
    replicas: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=64)] = 1
    endpoint_mode: EndpointMode = Field(
        EndpointMode.VIP, description="vip (one virtual IP, IPVS) or dnsrr (the tasks' IPs)"
    )
    publish: list[PublishText] = Field([], description="routing mesh: PUBLISHED:TARGET")
    host: str | None = Field(None, description="a lab host: node.hostname == host")
    image: str | None = None
    listen: list[PortText] = Field([], description="ports every task answers on")


# --- expectations --------------------------------------------------------------------------


class _ExpectationBase(Spec):
    probe: Probes
    reason: str | None = Field(None, description="the finding expected to explain it")
    description: str | None = None


class PairExpectation(_ExpectationBase):
    """from each source to each target (self-pairs skipped)."""

    from_: FromSources = Field(alias="from")
    to: ToTargets | None = None
    reachable: bool = True
    server: str | None = Field(None, description="dns probes: the node to ask, or a literal "
                                                 "address / a name from targets:")
    source: IP | None = Field(
        None, description="the source address the probe leaves with, for a node with several "
                          "(one source node only); the kernel routes it as a socket bound to it")


class MeshExpectation(_ExpectationBase):
    """Every ordered pair within the set."""

    mesh: Annotated[list[str], Field(min_length=2)]
    reachable: bool = True


class IsolatedExpectation(_ExpectationBase):
    """No pair across the groups reaches, in either direction."""

    isolated: Annotated[
        list[Annotated[list[str], BeforeValidator(_one_or_many), Field(min_length=1)]],
        Field(min_length=2),
    ]


class TargetSpec(Spec):
    """An address outside the scenario's nodes, named once (a database, a gateway, a free
    address that must stay silent)."""

    address: IP = Field(description="the IPv4 or IPv6 address probes go to")
    description: str | None = Field(None, description="free text: what is at that address")


FORM_KEYS = ("from", "mesh", "isolated")


def _form(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if "mesh" in value:
        return "<mesh>"
    if "isolated" in value:
        return "<isolated>"
    return "<pair>"


ExpectationSpec = Annotated[
    Annotated[PairExpectation, Tag("<pair>")]
    | Annotated[MeshExpectation, Tag("<mesh>")]
    | Annotated[IsolatedExpectation, Tag("<isolated>")],
    Discriminator(
        _form,
        custom_error_type="expectation_form",
        custom_error_message="expected a mapping with from/to, mesh or isolated",
    ),
]


class ScenarioSpec(Spec):
    """A netcheck scenario: a lab, Docker networks, containers, and what should reach what."""

    model_config = ConfigDict(title="netcheck scenario")

    name: str | None = Field(None, description="defaults to the file name")
    description: str | None = None
    runtime: Literal["netns", "docker", "auto"] | None = None
    image: str | None = Field(None, description="default container image")
    variables: dict[str, str | int | float | bool | None] = Field(
        {}, description="defaults for ${NAME}; --set NAME=VALUE overrides"
    )
    lab: LabSpec = Field(default_factory=lambda: LabSpec.model_validate({}))
    networks: dict[Name, NetworkSpec] = {}
    endpoints: dict[Name, EndpointSpec] = {}
    services: dict[Name, ServiceSpec] = Field(
        {}, description="swarm services on overlay networks: probe targets by name"
    )
    targets: dict[Name, TargetSpec] = Field(
        {}, description="named outside addresses: `to: db` probes db's address; the name is "
                        "used in expectation ids and reports"
    )
    expectations: list[ExpectationSpec] = []
