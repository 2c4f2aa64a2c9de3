"""From a live host to a draft scenario: what Docker promises there, and what it isolates
by design. Pure: `LiveHost` in, `Draft` out; the writer prints it, the prober checks it.

Derived, per Docker host:
- a user-defined network's containers reach each other (icmp mesh), unless the network
  isolates them by design (bridge `enable_icc=false`, macvlan `private`): then `isolated`;
- each container reaches its network's gateway (a named target of the gateway address);
- on a user-defined network each container resolves every other one by name and alias
  (Docker's embedded DNS; `dns/NAME` with `to:`, so the answer must hold that address);
- a macvlan/ipvlan container does not reach its own host's address on the parent (the
  kernel never passes that traffic; no `reason:`, as the host is a literal address that the
  macvlan-host-isolation rule cannot read yet);
- an `--internal` network is not reached from containers of the host's other networks.

Each expectation carries `why`, the comment the writer puts above it, and its expansion into
checks with the ids the scenario loader gives them (the prober checks they agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from netcheck.discover.live import LiveContainer, LiveHost, LiveNetwork
from netcheck.model.plan import IPAddress, IPNetwork

# The rule that explains why a macvlan child cannot reach its parent's host
# (netcheck/diagnose/rules/macvlan_isolation.py).


class Form(StrEnum):
    MESH = "mesh"  # mesh: [a, b, c]
    PAIR = "pair"  # from: [...], to: [...]
    ISOLATED = "isolated"  # isolated: [[a], [b]]


@dataclass(frozen=True, slots=True)
class Check:
    """One expanded (source, target, probe): the unit a verdict is about."""

    id: str
    source: str
    target: str  # as written: node, node@network, or a targets: name
    probe: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Derived:
    """One expectation entry of the written scenario."""

    form: Form
    probes: tuple[str, ...]
    sources: tuple[str, ...]  # mesh members, from: sources, or isolated singletons
    targets: tuple[str, ...] = ()  # pair form only
    reachable: bool = True
    reason: str | None = None
    why: str  # the comment: what it was derived from
    # Where it goes in the file: (host, network, topic rank); the writer keeps this order.
    order: tuple[str, str, int] = ("", "", 0)

    def checks(self) -> tuple[Check, ...]:
        """The expansion, as netcheck.scenario.expand does it (same ids, same order)."""
        out: list[Check] = []
        targets = self.targets if self.form is Form.PAIR else self.sources
        for probe in self.probes:
            for src in self.sources:
                for dst in targets:
                    if dst.partition("@")[0] != src:
                        out.append(Check(_id(probe, src, dst), src, dst, probe))
        return tuple(out)


def _id(probe: str, source: str, target: str) -> str:
    return f"{probe}:{source}->{target}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftHost:
    name: str  # the scenario's lab host (only written when discover read several daemons)
    url: str
    engine: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftNetwork:
    key: str  # the scenario's name for it
    docker_name: str
    summary: str  # driver, mode, parent, subnets, gateways, ranges: the comment above it


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftEndpoint:
    key: str
    container: str
    host: str | None
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftTarget:
    name: str
    address: IPAddress
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    hosts: tuple[DraftHost, ...]
    networks: tuple[DraftNetwork, ...]
    endpoints: tuple[DraftEndpoint, ...]
    targets: tuple[DraftTarget, ...]
    expectations: tuple[Derived, ...]
    notes: tuple[str, ...] = field(default=())  # what was left out, and why

    @property
    def several_hosts(self) -> bool:
        return len(self.hosts) > 1

    def checks(self) -> dict[str, tuple[Derived, Check]]:
        return {c.id: (d, c) for d in self.expectations for c in d.checks()}


def _subnets_text(net: LiveNetwork) -> str:
    parts = []
    for s in net.subnets:
        text = str(s.subnet)
        extra = []
        if s.gateway is not None:
            extra.append(f"gateway {s.gateway}")
        if s.ip_range is not None:
            extra.append(f"range {s.ip_range}")
        if s.aux_addresses:
            extra.append("aux " + ", ".join(f"{k}={v}" for k, v in s.aux_addresses.items()))
        parts.append(f"{text} ({', '.join(extra)})" if extra else text)
    return "; ".join(parts) or "no IPAM subnet"


def network_summary(net: LiveNetwork) -> str:
    bits = [net.driver]
    if net.parent:
        bits.append(f"parent {net.parent}")
    if net.mode:
        bits.append(f"mode {net.mode}")
    if net.predefined:
        bits.append("Docker's default bridge")
    if net.internal:
        bits.append("internal")
    if net.attachable:
        bits.append("attachable")
    if net.scope != "local":
        bits.append(f"scope {net.scope}")
    if net.driver == "bridge" and not net.icc:
        bits.append("icc off")
    mtu = net.options.get("com.docker.network.driver.mtu")
    if mtu:
        bits.append(f"mtu {mtu}")
    return f"{', '.join(bits)}: {_subnets_text(net)}"


def endpoint_summary(c: LiveContainer) -> str:
    parts = []
    for a in c.attachments:
        text = a.network
        if a.fixed:
            text += " " + ", ".join(map(str, a.fixed))
        if a.aliases:
            text += f" (aliases {', '.join(a.aliases)})"
        parts.append(text)
    summary = "on " + "; ".join(parts)
    if c.ports:
        summary += "; publishes " + ", ".join(map(str, c.ports))
    return summary


class _Names:
    """Scenario names: the Docker names, made unique across hosts and kinds."""

    def __init__(self) -> None:
        self.nodes: set[str] = set()

    def node(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self.nodes:
            name, n = f"{wanted}-{n}", n + 1
        self.nodes.add(name)
        return name


def _host_name(host: LiveHost, index: int) -> str:
    import re

    name = re.sub(r"[^A-Za-z0-9_.-]", "-", host.hostname).strip("-.") or f"host{index + 1}"
    return name[:63]


def _parent_addresses(host: LiveHost, net: LiveNetwork) -> list[IPAddress]:
    """The host's own addresses on a macvlan/ipvlan network's parent (the ones its
    containers cannot reach), preferring those inside the network's subnets."""
    own = list(host.addresses.get(net.parent or "", ()))
    inside = [a for a in own if any(a in s.subnet for s in net.subnets)]
    return inside or own


def derive(hosts: Sequence[LiveHost]) -> Draft:
    """The draft scenario for these live hosts (one or more Docker daemons)."""
    names = _Names()
    several = len(hosts) > 1
    draft_hosts = tuple(
        DraftHost(name=names.node(_host_name(h, i)), url=h.url, engine=h.engine)
        for i, h in enumerate(hosts)
    )
    networks: dict[str, DraftNetwork] = {}
    endpoints: list[DraftEndpoint] = []
    targets: list[DraftTarget] = []
    expectations: list[Derived] = []
    notes: list[str] = []
    for h_index, host in enumerate(hosts):
        host_key = draft_hosts[h_index].name if several else None
        for s in host.skipped:
            where = f" on {host_key}" if host_key else ""
            notes.append(f"left out: {s.kind} {s.name}{where}: {s.why}")
        # Networks: one scenario name per Docker name (a swarm network is one across hosts);
        # one no kept container is on gives nothing to check and is only noted.
        for net in host.networks:
            if not host.members(net.name):
                where = f" on {host_key}" if host_key else ""
                notes.append(f"left out: network {net.name}{where}: no running container on it")
                continue
            if net.name not in networks:
                networks[net.name] = DraftNetwork(key=net.name, docker_name=net.name,
                                                  summary=network_summary(net))
        keys: dict[str, str] = {}
        for c in host.containers:
            keys[c.name] = names.node(c.name)
            endpoints.append(DraftEndpoint(key=keys[c.name], container=c.name, host=host_key,
                                           summary=endpoint_summary(c)))
        multi = {c.name for c in host.containers if len(c.attachments) > 1}
        for net in host.networks:
            members = host.members(net.name)
            if not members:
                continue
            expectations += _network_expectations(host, net, members, keys, multi, names,
                                                  targets, host_key)
        expectations += _internal_isolation(host, keys, host_key or "")
    expectations.sort(key=_order)
    return Draft(
        hosts=draft_hosts,
        networks=tuple(sorted(networks.values(), key=lambda n: n.key)),
        endpoints=tuple(sorted(endpoints, key=lambda e: e.key)),
        targets=tuple(sorted(targets, key=lambda t: t.name)),
        expectations=tuple(expectations),
        notes=tuple(notes),
    )


def _order(d: Derived) -> tuple[object, ...]:
    return (d.order, d.probes, d.form.value, d.sources, d.targets)


def _at(key: str, container: str, net: str, multi: set[str]) -> str:
    # A multi-homed target is pinned to this network's address; one address needs no pin.
    return f"{key}@{net}" if container in multi else key


def _network_expectations(
    host: LiveHost,
    net: LiveNetwork,
    members: Sequence[LiveContainer],
    keys: dict[str, str],
    multi: set[str],
    names: _Names,
    targets: list[DraftTarget],
    host_key: str | None,
) -> list[Derived]:
    out: list[Derived] = []
    on = f"{net.name} on {host_key}" if host_key else net.name
    member_keys = tuple(sorted(keys[c.name] for c in members))
    by_key = {keys[c.name]: c for c in members}
    isolated_by_design = (net.driver == "bridge" and not net.icc) or (
        net.driver == "macvlan" and net.mode == "private"
    )
    if len(members) >= 2 and net.user_defined:
        if isolated_by_design:
            why = ("icc is off (com.docker.network.bridge.enable_icc=false)"
                   if net.driver == "bridge" else "macvlan mode private")
            singles = tuple(k for k in member_keys if by_key[k].name not in multi)
            if len(singles) >= 2:
                out.append(Derived(
                    form=Form.ISOLATED, probes=("icmp",), sources=singles, reachable=False,
                    order=(host_key or "", net.name, 0),
                    why=f"{on}: {why}: Docker isolates its containers from each other",
                ))
        elif net.driver == "macvlan" and net.mode == "vepa":
            pass  # vepa: the switch decides (hairpin); nothing Docker promises
        else:
            why = f"{on} ({net.driver}): Docker connects every container on a user-defined " \
                  "network"
            if any(by_key[k].name in multi for k in member_keys):
                out.append(Derived(
                    form=Form.PAIR, probes=("icmp",), sources=member_keys,
                    targets=tuple(_at(k, by_key[k].name, net.name, multi) for k in member_keys),
                    why=why, order=(host_key or "", net.name, 0),
                ))
            else:
                out.append(Derived(form=Form.MESH, probes=("icmp",), sources=member_keys,
                                   why=why, order=(host_key or "", net.name, 0)))
        # Docker's embedded DNS answers every container's name and aliases on the network.
        for k in member_keys:
            c = by_key[k]
            others = tuple(o for o in member_keys if o != k)
            att = c.attachment(net.name)
            aliases = att.aliases if att is not None else ()
            target = _at(k, c.name, net.name, multi)
            qnames = [q for q in (c.name, *aliases) if _dns_name(q)]
            if not qnames:
                continue
            what = " and ".join((f"{c.name}", *(f"alias {a}" for a in qnames[1:])))
            out.append(Derived(
                form=Form.PAIR, probes=tuple(f"dns/{q}" for q in qnames), sources=others,
                targets=(target,), why=f"{on}: Docker's DNS resolves {what} to {k}'s address",
                order=(host_key or "", net.name, 1),
            ))
    # The gateway: the host's own address on a bridge; a router beyond the parent otherwise.
    if not (net.driver == "ipvlan" and net.mode == "l3"):
        for sub in net.subnets:
            fam = [k for k in member_keys if _has_family(by_key[k], net.name, sub.subnet)]
            gateway = sub.gateway or _reported_gateway(members, net.name, sub.subnet)
            if gateway is None or not fam:
                continue
            suffix = "gateway" if sub.subnet.version == 4 else "gateway6"
            name = names.node(f"{host_key}-{net.name}-{suffix}" if host_key
                              else f"{net.name}-{suffix}")
            where = ("the host's own address on the network's bridge" if net.driver == "bridge"
                     else "the subnet's router")
            targets.append(DraftTarget(name=name, address=gateway,
                                       why=f"gateway of {on} ({where})"))
            out.append(Derived(
                form=Form.PAIR, probes=("icmp",), sources=tuple(fam), targets=(name,),
                why=f"{on}: each container reaches its gateway {gateway}",
                order=(host_key or "", net.name, 2),
            ))
    # macvlan/ipvlan: the kernel keeps children and their parent's host apart.
    if net.driver in ("macvlan", "ipvlan") and net.parent:
        for addr in _parent_addresses(host, net):
            name = names.node(f"{host_key or 'host'}-{net.parent}"
                              + ("" if addr.version == 4 else "-v6"))
            targets.append(DraftTarget(name=name, address=addr,
                                       why=f"this host's own address on {net.parent}, the "
                                           f"parent of {net.name}"))
            # No `reason:` (yet): the host is a literal address here, not a lab host node,
            # and the macvlan-host-isolation rule reads the host's side of a parent it
            # knows as a node. A reason no rule can confirm would fail a healthy host; a
            # silent probe that really went out is the promise itself.
            out.append(Derived(
                form=Form.PAIR, probes=("icmp",), sources=member_keys, targets=(name,),
                reachable=False, order=(host_key or "", net.name, 3),
                why=f"{on} ({net.driver} on {net.parent}): a {net.driver} container never "
                    f"reaches its own host through the parent",
            ))
    return out


def _reported_gateway(
    members: Sequence[LiveContainer], network: str, subnet: IPNetwork
) -> IPAddress | None:
    """The gateway Docker gave the containers when the IPAM config names none (a network
    created with --subnet alone): the one address they all report, inside the subnet."""
    seen = {a.gateway for c in members if (a := c.attachment(network)) is not None
            and a.gateway is not None and a.gateway in subnet}
    return seen.pop() if len(seen) == 1 else None


def _has_family(c: LiveContainer, network: str, subnet: IPNetwork) -> bool:
    att = c.attachment(network)
    return att is not None and any(a.version == subnet.version for a in att.addresses)


def _dns_name(name: str) -> bool:
    from netcheck.scenario.values import ValueProblem, parse_probe

    try:
        parse_probe(f"dns/{name}")
    except ValueProblem:
        return False
    return True


def _internal_isolation(host: LiveHost, keys: dict[str, str], host_key: str) -> list[Derived]:
    """`--internal`: Docker drops what is forwarded into or out of the network's subnet.

    Inside -> outside: from each of the network's single-homed containers (a multi-homed
    one may reach out through its other network) to one container of each of the host's
    other bridge networks, which stands for it (every pair would be quadratic for no more
    evidence: the drop is per network). Outside -> inside: from one container of each routed
    (non-internal) bridge network to every member. A source needs a gateway to send at all:
    without a route the probe could not even be sent, and that is no evidence. (The host's
    own addresses are not "outside": Docker does not filter what a container sends to its
    host.)
    """
    out: list[Derived] = []
    bridges = {n.name: n for n in host.networks if n.driver == "bridge"}

    def routed(c: LiveContainer) -> bool:
        return any(a.gateway is not None for a in c.attachments)

    def pinned(c: LiveContainer, net: str) -> str:
        return f"{keys[c.name]}@{net}" if len(c.attachments) > 1 else keys[c.name]

    for net in host.networks:
        if not (net.internal and net.driver == "bridge"):
            continue
        inside = host.members(net.name)
        # One representative per other bridge network: its first container not on `net`.
        delegates: dict[str, LiveContainer] = {}
        for other in sorted(bridges):
            if other == net.name:
                continue
            for c in sorted(host.members(other), key=lambda c: keys[c.name]):
                if c.attachment(net.name) is None:
                    delegates[other] = c
                    break
        if not inside or not delegates:
            continue
        why = (f"{net.name} is --internal: Docker drops traffic between it and anything "
               "outside its subnet")
        order = (host_key, net.name, 4)
        singles = sorted(keys[c.name] for c in inside if len(c.attachments) == 1 and routed(c))
        if singles:
            targets = sorted({pinned(c, other) for other, c in delegates.items()})
            out.append(Derived(form=Form.PAIR, probes=("icmp",), sources=tuple(singles),
                               targets=tuple(targets), reachable=False,
                               why=f"{why} (from inside, to one container of each other "
                                   "network)", order=order))
        from_routed = sorted({keys[c.name] for other, c in delegates.items()
                              if not bridges[other].internal and routed(c)})
        if from_routed:
            out.append(Derived(form=Form.PAIR, probes=("icmp",), sources=tuple(from_routed),
                               targets=tuple(sorted(pinned(c, net.name) for c in inside)),
                               reachable=False,
                               why=f"{why} (from outside: one container of each routed "
                                   "network)", order=order))
    return out
