"""Validated scenario models -> the frozen `Plan`, with every cross-field rule checked.

Errors are collected, not raised one by one: a user fixing a scenario sees all of them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import replace

from netcheck.errors import Location
from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    EndpointMode,
    FirewallRule,
    Host,
    IPAddress,
    IPNetwork,
    IpvlanMode,
    Lab,
    Lan,
    Machine,
    MacvlanMode,
    NamedTarget,
    Network,
    NodeKind,
    NodeStack,
    Plan,
    Port,
    PublishMode,
    Route,
    Router,
    RouterLeg,
    Service,
    Shim,
    Subnet,
    Uplink,
    subnet_within,
)
from netcheck.runtime.naming import RESERVED_NODES
from netcheck.scenario import containers, overlay, segments, values
from netcheck.scenario.checks import (
    AddressBook,
    Claim,
    first_host,
    inside,
    overlaps,
    reserved_reason,
)
from netcheck.scenario.context import Context, NodeInfo
from netcheck.scenario.paths import Path
from netcheck.scenario.schema import (
    AttachmentSpec,
    EndpointSpec,
    HostSpec,
    MachineSpec,
    NetworkSpec,
    RoutersItemSpec,
    RouterSpec,
    ScenarioSpec,
    SubnetSpec,
)
from netcheck.scenario.sources import node_facts, scenario_subnets
from netcheck.scenario.stack import resolve_stack
from netcheck.scenario.suggest import did_you_mean, hint_for, one_of
from netcheck.scenario.values import ValueProblem

# Sysctls that live under an interface's name: net.ipv4.conf.eth0.rp_filter.
_PER_IF_SYSCTL = re.compile(r"^net\.ipv[46]\.(conf|neigh)\.(?P<ifname>[^.]+)\.")
DOCKER_DEFAULT_BRIDGE = "bridge"  # predefined on every Docker daemon

MTU_OPTION = "com.docker.network.driver.mtu"
_DOCKER_URL = re.compile(r"^(unix|tcp|ssh|http|https|npipe)://\S+$")
_L2_DRIVERS = (Driver.MACVLAN, Driver.IPVLAN)


class Resolver:
    def __init__(self, spec: ScenarioSpec, ctx: Context, variables: dict[str, str]) -> None:
        self.spec = spec
        self.ctx = ctx
        self.variables = variables
        self.lab_book = AddressBook()  # the lab's physical L2: LAN gateways, machines, uplinks
        self.nodes: dict[str, NodeInfo] = {}
        # host -> VLAN sub-interface uplinks its networks' parents imply (check_parent)
        self.implied: dict[str, dict[str, Uplink]] = {}
        self.mtu_checked: set[tuple[str, str]] = set()
        # LAN -> the router holding its gateway, and that router's line (lab.routers checks)
        self.gateway_holder: dict[str, tuple[str, int]] = {}

    def err(self, path: Path, message: str, hint: str | None = None) -> None:
        self.ctx.error(path, message, hint)

    def claim_lab_ip(self, ip: IPAddress, what: str, path: Path, duplicate: bool = False) -> None:
        earlier = self.lab_book.claim(ip, Claim(what, path, self.ctx.line(path), duplicate))
        if earlier is not None and not (duplicate or earlier.duplicate):
            self.err(path, f"{ip} is already used by {earlier.what} (line {earlier.line})",
                     "Every address on a LAN must be unique; for a deliberate duplicate "
                     "(the fault itself, or a VIP) write duplicate: allowed on one of them")

    # --- lab -------------------------------------------------------------------------------

    def lans(self) -> tuple[Lan, ...]:
        out: list[Lan] = []
        vlans: dict[int, str] = {}
        router = self.spec.lab.router
        legs = None if router is None or router.lans is None else set(router.lans)
        if router is not None and router.lans is not None:
            for index, lan_name in enumerate(router.lans):
                if lan_name not in self.spec.lab.lans:
                    self.err(("lab", "router", "lans", index), f"unknown lan '{lan_name}'",
                             hint_for(lan_name, self.spec.lab.lans, "lans"))
        for name, spec in self.spec.lab.lans.items():
            path: Path = ("lab", "lans", name)
            if spec.gateway is not None:
                self.check_host_ip(spec.gateway, spec.subnet, (*path, "gateway"), f"lan '{name}'")
                if router is not None and (legs is None or name in legs):
                    self.gateway_holder[name] = (router.name, self.ctx.line(("lab", "router")))
                # Without router: each of routers: claims the addresses its legs hold.
                if (router is not None or not self.spec.lab.routers) and (
                        legs is None or name in legs):
                    self.claim_lab_ip(spec.gateway, f"the gateway of lan '{name}'",
                                      (*path, "gateway"))
            elif legs is not None and name not in legs:
                pass  # no router leg here, and no gateway: a LAN of its own
            elif router is not None:
                self.err(
                    path, f"lan '{name}' needs a gateway: the router has a leg on every LAN",
                    f"Add gateway: {first_host(spec.subnet)}",
                )
            if spec.vlan is not None:
                if spec.vlan in vlans:
                    self.err((*path, "vlan"),
                             f"vlan {spec.vlan} is already used by lan '{vlans[spec.vlan]}'")
                vlans.setdefault(spec.vlan, name)
            # Overlapping subnets are checked once the lab's nodes are known (segments.py).
            out.append(Lan(name=name, subnet=spec.subnet, gateway=spec.gateway, vlan=spec.vlan,
                           hairpin=spec.hairpin, mtu=spec.mtu, location=self.ctx.location(path)))
        return tuple(out)

    def check_host_ip(self, ip: IPAddress, subnet: IPNetwork, path: Path, owner: str) -> bool:
        if not inside(ip, subnet):
            self.err(path, f"{ip} is not in the subnet {subnet} of {owner}")
            return False
        reason = reserved_reason(ip, subnet)
        if reason is not None:
            self.err(path, reason, "Use a host address of the subnet")
            return False
        return True

    def known_lan(self, lans: dict[str, Lan], name: str, path: Path) -> Lan | None:
        lan = lans.get(name)
        if lan is None:
            self.err(path, f"unknown lan '{name}'", hint_for(name, lans, "lans"))
        return lan

    def machines(self, lans: dict[str, Lan]) -> tuple[Machine, ...]:
        out: list[Machine] = []
        for name, spec in self.spec.lab.machines.items():
            path: Path = ("lab", "machines", name)
            lan = self.known_lan(lans, spec.lan, (*path, "lan"))
            off = lan is not None and off_subnet(spec, lan.subnet)
            if lan is not None and off:
                # An address off the LAN's subnet, reached by an on-link route: /32 on eth0.
                self.check_off_subnet(path, spec, lan)
                self.claim_lab_ip(spec.ip, f"machine '{name}'", (*path, "ip"), spec.duplicate)
            elif lan is not None and self.check_host_ip(spec.ip, lan.subnet, (*path, "ip"),
                                                        f"lan '{lan.name}'"):
                self.claim_lab_ip(spec.ip, f"machine '{name}'", (*path, "ip"), spec.duplicate)
            own: IPNetwork | None = None
            if lan is not None:
                own = host_prefix(spec.ip) if off else lan.subnet
            stack = resolve_stack(self.ctx, path, spec, name, devs=("eth0",),
                                  subnets={"eth0": [own] if own is not None else []},
                                  held=(spec.ip,), claim=self.claim_stack_ip,
                                  default_route=spec.default_route and not off)
            out.append(Machine(name=name, lan=spec.lan, ip=spec.ip, listen=tuple(spec.listen),
                               location=self.ctx.location(path), sysctls=dict(spec.sysctls),
                               sysctl_locations=self.sysctl_locations(path, spec.sysctls),
                               routes=self.located_routes(path, spec.routes),
                               firewall=tuple(spec.firewall), mtu=spec.mtu, state=spec.state,
                               stack=stack))
            onlink = None if own is None else (own, *(a.network for a in stack.addresses))
            self.check_routes(path, spec.routes, ("eth0",), onlink)
            for table in stack.tables:
                self.check_routes((*path, "tables", table.id), list(table.routes), ("eth0",),
                                  onlink, key=None)
            self.check_sysctl_interfaces(path, spec.sysctls, ("eth0",))
        return tuple(out)

    def hosts(self, lans: dict[str, Lan]) -> tuple[Host, ...]:
        out: list[Host] = []
        for name, spec in self.spec.lab.hosts.items():
            path: Path = ("lab", "hosts", name)
            uplinks: list[Uplink] = []
            seen: set[str] = set()
            subnets: dict[str, list[IPNetwork]] = {}
            for index, up in enumerate(spec.uplinks):
                up_path: Path = (*path, "uplinks", index)
                if up.ifname in seen:
                    self.err((*up_path, "ifname"), f"host '{name}' has two uplinks '{up.ifname}'")
                seen.add(up.ifname)
                lan = self.known_lan(lans, up.lan, (*up_path, "lan"))
                if up.ip is not None and lan is not None and self.check_host_ip(
                    up.ip, lan.subnet, (*up_path, "ip"), f"lan '{lan.name}'"
                ):
                    self.claim_lab_ip(up.ip, f"host '{name}' ({up.ifname})", (*up_path, "ip"),
                                      up.duplicate)
                uplinks.append(Uplink(ifname=up.ifname, lan=up.lan, ip=up.ip, mtu=up.mtu,
                                      state=up.state, hairpin=up.hairpin))
                if lan is not None:
                    subnets.setdefault(up.ifname, []).append(lan.subnet)
            if spec.docker is not None and not _DOCKER_URL.match(spec.docker):
                self.err((*path, "docker"), f"{values.describe(spec.docker)} is not a Docker URL",
                         "Write ssh://user@host, tcp://host:2376 or unix:///path/docker.sock")
            shims = self.shims(name, spec, seen)
            if spec.docker is not None and (spec.rules or spec.tables or spec.addresses
                                            or spec.neighbours):
                self.err(path, f"host '{name}' is a remote Docker host: netcheck sets rules, "
                               "tables, addresses and neighbours only on lab hosts",
                         "Set them on the real host (ip rule / ip route / ip addr / ip neigh)")
            held = [u.ip for u in uplinks if u.ip is not None] + [sh.ip for sh in shims]
            stack = resolve_stack(self.ctx, path, spec, name,
                                  devs=[*seen, *(sh.name for sh in shims)], subnets=subnets,
                                  held=held, claim=self.claim_stack_ip,
                                  default_route=spec.default_route)
            out.append(Host(name=name, uplinks=tuple(uplinks), docker_url=spec.docker,
                            listen=tuple(spec.listen), location=self.ctx.location(path),
                            sysctls=dict(spec.sysctls),
                            sysctl_locations=self.sysctl_locations(path, spec.sysctls),
                            routes=self.located_routes(path, spec.routes),
                            firewall=tuple(spec.firewall), shims=shims, stack=stack))
            self.check_routes(path, spec.routes, None, None)
        return tuple(out)

    def shims(self, host: str, spec: HostSpec, uplinks: set[str]) -> tuple[Shim, ...]:
        out: list[Shim] = []
        for name, shim in spec.shims.items():
            path: Path = ("lab", "hosts", host, "shims", name)
            if spec.docker is not None:
                self.err(path, f"host '{host}' is a remote Docker host: netcheck builds shims "
                               "only on lab hosts",
                         f"On the real host run: ip link add {name} link {shim.parent} type "
                         "macvlan mode bridge, add its address and routes, then remove 'shims'")
                continue
            if name in uplinks:
                self.err(path, f"host '{host}' already has an uplink named '{name}'",
                         "Give the shim its own name, e.g. mv-shim")
                continue
            if shim.parent not in uplinks:
                self.err((*path, "parent"), f"'{shim.parent}' is not an uplink of host '{host}'",
                         hint_for(shim.parent, sorted(uplinks), "uplinks") if uplinks else
                         "Declare the uplink under lab.hosts.<host>.uplinks first")
                continue
            self.claim_lab_ip(shim.ip, f"shim '{name}' of host '{host}'", (*path, "ip"))
            out.append(Shim(name=name, parent=shim.parent, ip=shim.ip, routes=tuple(shim.routes)))
        return tuple(out)

    def located_routes(self, path: Path, routes: list[Route]) -> tuple[Route, ...]:
        return tuple(replace(route, location=self.ctx.location((*path, "routes", index)))
                     for index, route in enumerate(routes))

    def sysctl_locations(self, path: Path, sysctls: dict[str, str]) -> dict[str, Location]:
        return {key: self.ctx.location((*path, "sysctls", key)) for key in sysctls}

    def check_routes(self, path: Path, routes: list[Route], devs: tuple[str, ...] | None,
                     onlink: tuple[IPNetwork, ...] | None, key: str | None = "routes") -> None:
        """What the file tells: the node's interfaces and the subnets they are on. Hosts get
        bridges and veths at build time; the runtime names the line of a route it refuses."""
        base: Path = path if key is None else (*path, key)
        if onlink is not None:
            # An on-link route (dev, no via) makes its destination a neighbour.
            onlink = (*onlink, *(r.dst for r in routes if r.via is None and r.dev is not None))
        for index, route in enumerate(routes):
            if devs is not None and route.dev is not None and route.dev not in devs:
                self.err((*base, index, "dev"),
                         f"{route.dev!r} is not an interface of this node",
                         f"Its interfaces: {one_of(list(devs))}")
            elif (onlink is not None and route.via is not None
                  and not route.via.is_link_local and not route.onlink
                  and not any(inside(route.via, net) for net in onlink)):
                self.err((*base, index),
                         f"gateway {route.via} is not on a subnet of this node "
                         f"({', '.join(str(n) for n in onlink)})",
                         "A route's via must be a neighbour: an address on one of the node's "
                         "own subnets")

    def claim_stack_ip(self, ip: IPAddress, what: str, path: Path, duplicate: bool) -> None:
        self.claim_lab_ip(ip, what, path, duplicate)

    def check_off_subnet(self, path: Path, spec: MachineSpec, lan: Lan) -> None:
        """A machine address outside its LAN's subnet works only with an on-link route, and
        the LAN's gateway is no neighbour of it: no automatic default route."""
        if not any(r.via is None and r.dev == "eth0" for r in spec.routes):
            self.err((*path, "ip"), f"{spec.ip} is not in the subnet {lan.subnet} of lan "
                                    f"'{lan.name}', and the machine has no on-link route",
                     f"Add routes: ['{lan.subnet} dev eth0'] (the LAN is then on the link), "
                     "or use an address of the subnet")
        elif spec.default_route and lan.gateway is not None:
            self.err((*path, "ip"), f"{spec.ip} is off the subnet {lan.subnet}: the LAN's "
                                    f"gateway {lan.gateway} cannot be its default route as is",
                     f"Set default_route: false, and if it needs one write "
                     f"'default via {lan.gateway} dev eth0 onlink' under routes:")

    def check_sysctl_interfaces(self, path: Path, sysctls: dict[str, str],
                                ifnames: tuple[str, ...]) -> None:
        """net.ipv4.conf.<if>.x and friends name an interface: it must be one the node has."""
        known = (*ifnames, "lo", "all", "default")
        for key in sysctls:
            match = _PER_IF_SYSCTL.match(key)
            if match is None:
                continue
            ifname = match["ifname"].replace("/", ".")
            if ifname not in known:
                self.err((*path, "sysctls", key),
                         f"{key}: this node has no interface '{ifname}'",
                         did_you_mean(ifname, known) or f"Its interfaces: {one_of(known)}")

    def check_firewall_peers(self, lab: Lab) -> None:
        """`from X` names a node of the scenario or a subnet."""
        owners: list[tuple[Path, tuple[FirewallRule, ...]]] = [
            (("lab", "machines", m.name), m.firewall) for m in lab.machines
        ]
        owners += [(("lab", "hosts", h.name), h.firewall) for h in lab.hosts]
        if lab.router is not None:
            owners.append((("lab", "router"), lab.router.firewall))
        owners += [(("lab", "routers", i), r.firewall) for i, r in enumerate(lab.routers)]
        for path, rules in owners:
            for index, rule in enumerate(rules):
                if rule.peer is None or rule.peer in self.nodes:
                    continue
                try:
                    ipaddress.ip_network(rule.peer, strict=False)
                except ValueError:
                    self.err((*path, "firewall", index),
                             f"{rule.peer!r} is neither a node nor an address or subnet",
                             hint_for(rule.peer, self.nodes, "nodes"))

    def register_nodes(self, lab: Lab) -> None:
        candidates: list[tuple[str, NodeInfo]] = []
        if lab.router is not None:
            has_name = ("lab", "router", "name") in self.ctx.lines
            path: Path = ("lab", "router", "name") if has_name else ("lab", "router")
            vias = tuple(lan.name for lan in lab.lans if lan.gateway is not None
                         and (lab.router.lans is None or lan.name in lab.router.lans))
            candidates.append((lab.router.name, NodeInfo(kind=NodeKind.ROUTER, path=path,
                                                         vias=vias)))
        for index, r in enumerate(lab.routers):
            candidates.append((r.name, NodeInfo(kind=NodeKind.ROUTER,
                                                path=("lab", "routers", index, "name"),
                                                vias=tuple(leg.lan for leg in lab.legs(r)))))
        for m in lab.machines:
            candidates.append((m.name, NodeInfo(kind=NodeKind.MACHINE,
                                                path=("lab", "machines", m.name), vias=(m.lan,))))
        for h in lab.hosts:
            vias = tuple(dict.fromkeys(u.lan for u in h.uplinks))
            candidates.append((h.name, NodeInfo(kind=NodeKind.HOST, path=("lab", "hosts", h.name),
                                                vias=vias)))
        for name, ep in self.spec.endpoints.items():
            nets = list(ep.networks) if ep.networks is not None else []
            # An existing container's networks are known only from Docker, at build time.
            candidates.append((name, NodeInfo(kind=NodeKind.ENDPOINT, path=("endpoints", name),
                                              vias=tuple(dict.fromkeys(nets)),
                                              any_via=ep.container is not None)))
        for name, svc in self.spec.services.items():
            candidates.append((name, NodeInfo(kind=NodeKind.SERVICE, path=("services", name),
                                              vias=tuple(dict.fromkeys(svc.networks)))))
        candidates.sort(key=lambda c: self.ctx.line(c[1].path))
        for name, info in candidates:
            if name in RESERVED_NODES:
                # The netns runtime names its own namespaces nc-<run>-sw/-probe/-local; a node
                # of that name would collide with one at build time.
                self.err(info.path, f"'{name}' is a name netcheck keeps for itself",
                         f"Rename the {info.kind.value}; reserved: {one_of(RESERVED_NODES)}")
                continue
            earlier = self.nodes.get(name)
            if earlier is not None:
                self.err(info.path,
                         f"'{name}' is already the name of a {earlier.kind.value} "
                         f"(line {self.ctx.line(earlier.path)})",
                         "Endpoints, services, machines, hosts and routers share one set "
                         "of names")
                continue
            self.nodes[name] = info

    # --- networks --------------------------------------------------------------------------

    def networks(self) -> tuple[Network, ...]:
        return tuple(self.network(name, spec) for name, spec in self.spec.networks.items())

    def from_option(self, options: dict[str, str], key: str, current: object, path: Path,
                    parse: Callable[[str], object]) -> object:
        """Docker CLI spellings (`-o parent=eth0`) map onto the fields they mean."""
        if key not in options:
            return current
        text = options.pop(key)
        opt_path: Path = (*path, "options", key)
        try:
            value = parse(text)
        except ValueProblem as problem:
            self.err(opt_path, problem.message, problem.hint)
            return current
        if current is not None and current != value:
            self.err(opt_path, f"option {key}={text} contradicts {key.rsplit('.', 1)[-1]}: "
                               f"{getattr(current, 'value', current)}", "Keep only one of them")
            return current
        return value

    def external_network(self, name: str, spec: NetworkSpec) -> Network:
        """`external: true`: only a name; every other setting is Docker's, read at build."""
        path: Path = ("networks", name)
        for key in sorted(spec.model_fields_set - {"external", "name"}):
            self.err((*path, key),
                     f"network '{name}' is external: its {key} is whatever Docker has, and "
                     "netcheck never changes an existing network",
                     f"Remove '{key}' (netcheck reads it from Docker), or remove "
                     "'external: true' to have netcheck create its own network")
        docker_name = spec.name
        if docker_name is not None and not docker_name.strip():
            self.err((*path, "name"), "the Docker name of an external network is empty")
            docker_name = None
        return Network(name=name, driver=None, external=True,
                       docker_name=docker_name if docker_name != name else None,
                       location=self.ctx.location(path))

    def network(self, name: str, spec: NetworkSpec) -> Network:
        path: Path = ("networks", name)
        if spec.external:
            return self.external_network(name, spec)
        if spec.name is not None:
            self.err((*path, "name"), "'name' is for external networks: a network netcheck "
                                      "creates is named by its key (plus the run id)",
                     "Add 'external: true' to adopt the existing network of that name")
        options = dict(spec.options)
        mtu = self.from_option(options, MTU_OPTION, spec.mtu, path, _parse_mtu)
        parent = self.from_option(options, "parent", spec.parent, path, values.parse_ifname)
        macvlan_mode = self.from_option(options, "macvlan_mode", spec.macvlan_mode, path,
                                        _enum_parser(MacvlanMode, "macvlan mode"))
        ipvlan_mode = self.from_option(options, "ipvlan_mode", spec.ipvlan_mode, path,
                                       _enum_parser(IpvlanMode, "ipvlan mode"))
        driver = spec.driver
        if macvlan_mode is not None and driver is not Driver.MACVLAN:
            self.err((*path, "macvlan_mode"), f"macvlan_mode does not apply to the {driver} driver",
                     "Did you mean 'ipvlan_mode'?" if driver is Driver.IPVLAN else
                     "Remove it: only the macvlan driver has macvlan modes")
            macvlan_mode = None
        if ipvlan_mode is not None and driver is not Driver.IPVLAN:
            self.err((*path, "ipvlan_mode"), f"ipvlan_mode does not apply to the {driver} driver",
                     "Did you mean 'macvlan_mode'?" if driver is Driver.MACVLAN else
                     "Remove it: only the ipvlan driver has l2/l3 modes")
            ipvlan_mode = None
        if parent is not None and driver not in _L2_DRIVERS:
            self.err((*path, "parent"), f"parent does not apply to the {driver} driver",
                     "Only macvlan and ipvlan networks have a parent interface")
            parent = None
        if driver is Driver.MACVLAN and macvlan_mode is None:
            macvlan_mode = MacvlanMode.BRIDGE
        if driver is Driver.IPVLAN and ipvlan_mode is None:
            ipvlan_mode = IpvlanMode.L2
        subnets: list[Subnet] = []
        for index, sub in enumerate(spec.subnets):
            sub_path: Path = (*path, "subnets", index)
            owner = f"network '{name}'"
            if sub.gateway is not None:
                self.check_host_ip(sub.gateway, sub.subnet, (*sub_path, "gateway"), owner)
            ip_range, host_ranges = self.ip_ranges(sub, sub_path)
            for aux_name, aux in sub.aux_addresses.items():
                if not inside(aux, sub.subnet):
                    self.err((*sub_path, "aux_addresses", aux_name),
                             f"{aux} is not in the subnet {sub.subnet}")
            for other in subnets:
                if overlaps(sub.subnet, other.subnet):
                    self.err((*sub_path, "subnet"),
                             f"{sub.subnet} overlaps {other.subnet} of the same network")
            subnets.append(Subnet(subnet=sub.subnet, gateway=sub.gateway, ip_range=ip_range,
                                  aux_addresses=dict(sub.aux_addresses),
                                  host_ranges=host_ranges))
        return Network(
            name=name, driver=driver, parent=parent if isinstance(parent, str) else None,
            macvlan_mode=macvlan_mode if isinstance(macvlan_mode, MacvlanMode) else None,
            ipvlan_mode=ipvlan_mode if isinstance(ipvlan_mode, IpvlanMode) else None,
            subnets=tuple(subnets), mtu=mtu if isinstance(mtu, int) else None,
            internal=spec.internal, attachable=spec.attachable, options=options,
            location=self.ctx.location(path),
        )

    def ip_ranges(
        self, sub: SubnetSpec, path: Path
    ) -> tuple[IPNetwork | None, dict[str, IPNetwork]]:
        """`ip_range` as one range, or per lab host (each daemon's own `--ip-range`)."""
        given = sub.ip_range
        ranges = given if isinstance(given, dict) else {"": given} if given else {}
        hosts = list(self.spec.lab.hosts)
        good: dict[str, IPNetwork] = {}
        for host, rng in ranges.items():
            where: Path = (*path, "ip_range", host) if host else (*path, "ip_range")
            if host and host not in hosts:
                self.err(where, f"unknown host '{host}'",
                         hint_for(host, hosts, "hosts") if hosts else
                         "A per-host ip_range names lab hosts; this lab has none: give one range")
                continue
            if not subnet_within(rng, sub.subnet):
                self.err(where, f"ip_range {rng} is not inside the subnet {sub.subnet}")
                continue
            good[host] = rng
        if isinstance(given, dict):
            return None, good
        return good.get(""), {}

    # --- endpoints -------------------------------------------------------------------------

    def endpoints(self, lab: Lab, networks: dict[str, Network]) -> tuple[Endpoint, ...]:
        hosts = {h.name: h for h in lab.hosts}
        books: dict[str, AddressBook] = {n: AddressBook() for n in networks}
        mac_paths: dict[tuple[str, str], Path] = {}
        out: list[Endpoint] = []
        for name, spec in self.spec.endpoints.items():
            path: Path = ("endpoints", name)
            host = spec.host
            if spec.container is not None:
                adopted = self.existing_container(name, spec, hosts)
                if adopted is not None:
                    out.append(adopted)
                continue
            if host is not None and host not in hosts:
                hint = (hint_for(host, hosts, "hosts") if hosts else
                        "The lab declares no hosts: add lab.hosts, or remove 'host'")
                self.err((*path, "host"), f"unknown host '{host}'", hint)
            elif host is None and len(hosts) == 1:
                host = next(iter(hosts))
            elif host is None and len(hosts) > 1:
                self.err(path, f"endpoint '{name}' needs a host: the lab has {len(hosts)}",
                         f"Add host: one of {one_of(hosts)}")
            refs: list[tuple[str, AttachmentSpec, Path]]
            if spec.networks is None:
                self.err(path, f"endpoint '{name}' has no networks",
                         "Add networks: [...] for a container netcheck starts, or "
                         "container: <name or id> to probe from one that already runs")
                continue
            if isinstance(spec.networks, list):
                refs = [(n, AttachmentSpec(), (*path, "networks", i))
                        for i, n in enumerate(spec.networks)]
            else:
                refs = [(n, a or AttachmentSpec(), (*path, "networks", n))
                        for n, a in spec.networks.items()]
            attachments: list[Attachment] = []
            seen: set[str] = set()
            for net_name, att, att_path in refs:
                if net_name in seen:
                    self.err(att_path, f"network '{net_name}' is listed twice")
                    continue
                seen.add(net_name)
                net = networks.get(net_name)
                details = self.container_details(name, spec, att, att_path, net, lab, host,
                                                 first=not attachments, paths=mac_paths)
                if net is None and net_name == DOCKER_DEFAULT_BRIDGE:
                    # Docker's predefined default bridge exists on every daemon: no
                    # declaration, no fixed addresses, no aliases (Docker refuses both).
                    if att.ip is not None or att.aliases:
                        self.err(att_path, "the default bridge takes no fixed ip or aliases",
                                 "Declare a user-defined bridge network for those")
                        continue
                    attachments.append(details(Attachment(network=net_name)))
                    continue
                if net is None:
                    self.err(att_path, f"unknown network '{net_name}'",
                             hint_for(net_name, networks, "networks"))
                    continue
                if net.external:
                    # Its subnets are Docker's: a fixed ip is checked against them (and the
                    # addresses in use) when the network is read, at build time.
                    where = (*att_path, "ip") if att.ip is not None else att_path
                    attachments.append(details(Attachment(
                        network=net_name, ip=att.ip, aliases=tuple(att.aliases),
                        location=self.ctx.location(where))))
                    continue
                if att.ip is not None:
                    self.check_fixed_ip(name, net, att.ip, (*att_path, "ip"), books[net_name])
                if host in hosts and net.driver in _L2_DRIVERS and net.parent is not None:
                    self.check_parent(hosts[host], lab, net, att_path)
                attachments.append(details(Attachment(network=net_name, ip=att.ip,
                                                      aliases=tuple(att.aliases))))
            out.append(Endpoint(name=name, host=host if host in hosts else None,
                                attachments=tuple(attachments), image=spec.image,
                                listen=tuple(spec.listen), location=self.ctx.location(path),
                                dns=tuple(spec.dns), dns_search=tuple(spec.dns_search)))
        self.check_passthru(out, networks)
        containers.check_macs(out, networks, mac_paths, self.ctx.line, self.err)
        return self.with_start_order(out)

    def container_details(
        self, name: str, spec: EndpointSpec, att: AttachmentSpec, att_path: Path,
        net: Network | None, lab: Lab, host: str | None, *, first: bool,
        paths: dict[tuple[str, str], Path],
    ) -> Callable[[Attachment], Attachment]:
        """The attachment's mac_address and mtu (its own, else the endpoint's: the MAC for
        the first network as docker run --mac-address, the MTU for every network)."""
        mac, mac_path = att.mac_address, (*att_path, "mac_address")
        if first and spec.mac_address is not None:
            if mac is not None:
                self.err(mac_path, f"endpoint '{name}' gives its first network two MACs "
                                   "(mac_address here and on the endpoint)",
                         "Keep one of them")
            else:
                mac, mac_path = spec.mac_address, ("endpoints", name, "mac_address")
        mtu = att.mtu if att.mtu is not None else spec.mtu
        mtu_path = (*att_path, "mtu") if att.mtu is not None else ("endpoints", name, "mtu")
        parent = None if net is None else containers.parent_mtu(lab, host, net)

        def apply(attachment: Attachment) -> Attachment:
            if mac is not None:
                paths[(name, attachment.network)] = mac_path
            return containers.attachment_details(
                attachment, net, mac=mac, mtu=mtu, mac_path=mac_path, mtu_path=mtu_path,
                err=self.err, parent_mtu=parent)

        return apply

    def with_start_order(self, endpoints: list[Endpoint]) -> tuple[Endpoint, ...]:
        """Each endpoint's depends_on, checked against every endpoint of the scenario."""
        others = {n: i.kind.value for n, i in self.nodes.items()
                  if i.kind is not NodeKind.ENDPOINT}
        deps = containers.check_depends_on(
            {n: s.depends_on for n, s in self.spec.endpoints.items()}, others,
            lambda path, message, hint: self.err(path, message, hint))
        return tuple(replace(ep, depends_on=deps.get(ep.name, ())) for ep in endpoints)

    def check_parent_mtu(self, host: Host, lab: Lab, net: Network, uplink: Uplink) -> None:
        """A macvlan/ipvlan child cannot have a larger MTU than its parent (the kernel says
        EINVAL at build time); on a lab host the parent's MTU is in the file."""
        if net.mtu is None or (net.name, host.name) in self.mtu_checked:
            return
        self.mtu_checked.add((net.name, host.name))
        lan = next((lan for lan in lab.lans if lan.name == uplink.lan), None)
        parent_mtu = uplink.mtu or (lan.mtu if lan is not None else None)
        if parent_mtu is None or net.mtu <= parent_mtu:
            return
        path: Path = ("networks", net.name, "mtu")
        if path not in self.ctx.lines:
            path = ("networks", net.name, "options", MTU_OPTION)
        self.err(path, f"mtu {net.mtu} is larger than the MTU of its parent {uplink.ifname} on "
                       f"host '{host.name}' ({parent_mtu})",
                 f"A {net.driver or 'child'} interface cannot exceed its parent: use mtu "
                 f"{parent_mtu} or less, or raise the uplink's (or lan's) mtu")

    def existing_container(
        self, name: str, spec: EndpointSpec, hosts: dict[str, Host]
    ) -> Endpoint | None:
        """`container: web-1`: probed where it runs, never changed; Docker has the rest."""
        path: Path = ("endpoints", name)
        host = spec.host
        if host is not None and host not in hosts:
            self.err((*path, "host"), f"unknown host '{host}'",
                     hint_for(host, hosts, "hosts") if hosts else
                     "The lab declares no hosts: add lab.hosts, or remove 'host'")
            return None
        if host is None and len(hosts) > 1:
            self.err(path, f"endpoint '{name}' needs a host: the lab has {len(hosts)}",
                     f"Add host: one of {one_of(hosts)}")
            return None
        if host is None and hosts:
            host = next(iter(hosts))
        bad = False
        for key, why, hint in (
            ("listen", "netcheck starts no listener in a container it did not create: TCP/UDP "
                       "checks go to the ports the container really serves",
             "Remove 'listen'; a port nothing serves is reported as port-closed"),
            ("networks", "an existing container's networks are Docker's: netcheck never "
                         "connects or disconnects it",
             "Remove 'networks'; target a network with name@network"),
            ("image", "an existing container already has its image",
             "Remove 'image'"),
            *((key, "netcheck never changes a container it did not create (and it runs "
                    "already)", f"Remove '{key}'")
              for key in ("dns", "dns_search", "mtu", "mac_address", "depends_on")),
        ):
            if key in spec.model_fields_set:
                self.err((*path, key), f"endpoint '{name}' is an existing container: {why}",
                         hint)
                bad = True
        container = (spec.container or "").strip()
        if not container:
            self.err((*path, "container"), "the container's name or id is empty")
            bad = True
        if bad:
            return None
        return Endpoint(name=name, host=host, attachments=(), container=container,
                        location=self.ctx.location(path))

    def check_parent(self, host: Host, lab: Lab, net: Network, path: Path) -> None:
        """A parent is an uplink of the host, or `<uplink>.<vid>`: VLAN vid on that uplink.

        `docker network create -o parent=eth0.100` makes VLAN 100's sub-interface of eth0
        (the seeds' spelling). On a lab host that means eth0's switch port is a trunk: its
        own LAN untagged, and the LAN whose `vlan` is 100 tagged. The sub-interface becomes
        an uplink of the host (see `implied_uplinks`), built by the lab like a declared one.
        """
        assert net.parent is not None
        uplinks = {u.ifname: u for u in host.uplinks}
        known = uplinks.get(net.parent) or self.implied.get(host.name, {}).get(net.parent)
        if known is not None:
            self.check_parent_mtu(host, lab, net, known)
            return
        base, vid = _vlan_parent(net.parent)
        problem = f"network '{net.name}' has parent '{net.parent}', which is not an uplink " \
                  f"of host '{host.name}'"
        if base is None or vid is None or base not in uplinks:
            self.err(path, problem,
                     f"{host.name}'s uplinks: {one_of(list(uplinks))}; VLAN <vid> on one of "
                     "them is <uplink>.<vid>, with a lan of vlan: <vid>" if uplinks else
                     f"Host '{host.name}' has no uplinks: add lab.hosts.{host.name}.uplinks")
            return
        trunk = uplinks[base]
        lans = {lan.vlan: lan for lan in lab.lans if lan.vlan is not None}
        native = next((lan for lan in lab.lans if lan.name == trunk.lan), None)
        if native is None:
            return  # the uplink's unknown lan is reported already
        if native.vlan == vid:
            self.err(path, f"{problem}: {base} is on lan '{native.name}' (vlan {vid}) untagged, "
                           f"so VLAN {vid} tagged on it would join nothing",
                     f"Use parent: {base}")
            return
        if _vlan_parent(base)[0] is not None and native.vlan is not None:
            self.err(path, f"{problem}: {base} is itself a VLAN sub-interface; VLAN-in-VLAN "
                           "(802.1ad) is not modelled", "Declare the uplink on its own lan")
            return
        lan = lans.get(vid)
        if lan is None:
            self.err(path, f"{problem}: it names VLAN {vid} on uplink {base}, and no lan has "
                           f"vlan: {vid}",
                     f"Add a lan with vlan: {vid} (the segment its tagged frames join)")
            return
        self.implied.setdefault(host.name, {})[net.parent] = Uplink(
            ifname=net.parent, lan=lan.name, state=trunk.state)

    def with_implied_uplinks(self, lab: Lab) -> Lab:
        if not self.implied:
            return lab
        hosts = tuple(
            replace(h, uplinks=(*h.uplinks, *self.implied[h.name].values()))
            if h.name in self.implied else h
            for h in lab.hosts
        )
        return replace(lab, hosts=hosts)

    def check_fixed_ip(self, endpoint: str, net: Network, ip: IPAddress, path: Path,
                       book: AddressBook) -> None:
        if not net.subnets:
            self.err(path, f"network '{net.name}' has no subnets, so it cannot give a fixed ip",
                     f"Add subnets: to network '{net.name}', or remove the ip")
            return
        home = next((s for s in net.subnets if inside(ip, s.subnet)), None)
        if home is None:
            listed = ", ".join(str(s.subnet) for s in net.subnets)
            self.err(path, f"{ip} is not in network '{net.name}' ({listed})")
            return
        reason = reserved_reason(ip, home.subnet)
        if reason is not None:
            self.err(path, reason, "Use a host address of the subnet")
            return
        if ip == home.gateway:
            self.err(path, f"{ip} is the gateway of network '{net.name}'")
            return
        for aux_name, aux in home.aux_addresses.items():
            if aux == ip:
                where = " inside ip_range" if home.ip_range and inside(ip, home.ip_range) else ""
                self.err(path, f"{ip} is reserved by aux_addresses '{aux_name}'{where} "
                               f"of network '{net.name}'", "Pick another address")
                return
        earlier = book.claim(ip, Claim(f"endpoint '{endpoint}'", path, self.ctx.line(path)))
        if earlier is not None:
            self.err(path, f"{ip} is already used by {earlier.what} (line {earlier.line})")
            return
        if net.driver in _L2_DRIVERS:
            # macvlan/ipvlan children sit on the physical LAN next to the lab's own hosts.
            holder = self.lab_book.holder(ip)
            if holder is not None:
                self.err(path, f"{ip} is already used by {holder.what} (line {holder.line})",
                         "A macvlan/ipvlan container shares the LAN with the lab's machines")

    def check_passthru(self, endpoints: list[Endpoint], networks: dict[str, Network]) -> None:
        """passthru hands the whole parent to one container: a second one cannot get it."""
        users: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
        for ep in endpoints:
            for att in ep.attachments:
                net = networks.get(att.network)
                if net is None or net.driver not in _L2_DRIVERS:
                    continue
                parent = net.parent or f"<dummy of {net.name}>"
                users.setdefault((ep.host, parent), []).append((ep.name, net.name))
        for (host, parent), members in users.items():
            passthru = [m for m in members
                        if networks[m[1]].macvlan_mode is MacvlanMode.PASSTHRU]
            if not passthru or len(members) < 2:
                continue
            first, second = members[0], members[1]
            on = f" of host '{host}'" if host else ""
            where = f"parent '{parent}'" if not parent.startswith("<") else \
                f"network '{second[1]}' (no parent)"
            self.err(("endpoints", second[0], "networks"),
                     f"macvlan passthru gives {where}{on} to one container, but '{first[0]}' "
                     f"and '{second[0]}' both use it",
                     "Use macvlan_mode: bridge, or give each container its own parent")

    # --- swarm services --------------------------------------------------------------------

    def services(self, lab: Lab, networks: dict[str, Network]) -> tuple[Service, ...]:
        hosts = {h.name for h in lab.hosts}
        published: dict[tuple[str, int], str] = {}
        out: list[Service] = []
        for name, spec in self.spec.services.items():
            path: Path = ("services", name)
            for index, net_name in enumerate(spec.networks):
                net_path = (*path, "networks", index)
                net_path = net_path if net_path in self.ctx.lines else (*path, "networks")
                net = networks.get(net_name)
                if net is None:
                    self.err(net_path, f"unknown network '{net_name}'",
                             hint_for(net_name, networks, "networks"))
                elif net.external:
                    self.err(net_path, f"network '{net_name}' is external: netcheck starts "
                                       "swarm services only on overlay networks it creates",
                             "Declare an overlay network for the service")
                elif net.driver is not Driver.OVERLAY:
                    self.err(net_path, f"network '{net_name}' is a {net.driver} network; "
                                       "swarm services attach to overlay networks",
                             f"Set driver: overlay on network '{net_name}'")
            if spec.host is not None and spec.host not in hosts:
                self.err((*path, "host"), f"unknown host '{spec.host}'",
                         hint_for(spec.host, hosts, "hosts") if hosts else
                         "The lab declares no hosts: add lab.hosts, or remove 'host'")
            mesh = [p for p in spec.publish if p.mode is PublishMode.INGRESS]
            if mesh and spec.endpoint_mode is EndpointMode.DNSRR:
                self.err((*path, "publish"),
                         "Docker refuses ports published through the routing mesh in dnsrr "
                         "mode (it has no VIP to balance on)",
                         "Use endpoint_mode: vip, or publish with mode=host")
            for index, port in enumerate(spec.publish):
                if port.mode is PublishMode.HOST:
                    continue  # a DNAT on each task's node: not the mesh's to share out
                key = (port.proto.value, port.published)
                if key in published:
                    self.err((*path, "publish", index),
                             f"{port.proto.value}/{port.published} is already published by "
                             f"service '{published[key]}'",
                             "The routing mesh gives a published port to one service")
                published.setdefault(key, name)
            # A probe through the mesh lands on a task's target port: the tasks answer there.
            listen = list(dict.fromkeys([
                *spec.listen, *(Port(proto=p.proto, number=p.target) for p in spec.publish)
            ]))
            out.append(Service(
                name=name, networks=tuple(dict.fromkeys(spec.networks)), replicas=spec.replicas,
                endpoint_mode=spec.endpoint_mode, publish=tuple(spec.publish),
                host=spec.host if spec.host in hosts else None, image=spec.image,
                listen=tuple(listen), location=self.ctx.location(path),
            ))
        return tuple(out)

    # --- named outside addresses -----------------------------------------------------------

    def named_targets(self) -> tuple[NamedTarget, ...]:
        out: list[NamedTarget] = []
        for name, spec in self.spec.targets.items():
            path: Path = ("targets", name)
            node = self.nodes.get(name)
            if node is not None:
                self.err(path, f"'{name}' is already the name of a {node.kind.value} "
                               f"(line {self.ctx.line(node.path)})",
                         f"A target names an address outside the scenario's nodes: rename it, "
                         f"or write to: {name} for the {node.kind.value} itself")
                continue
            out.append(NamedTarget(name=name, address=spec.address,
                                   description=spec.description,
                                   location=self.ctx.location(path)))
        return tuple(out)

    def router_stack(self, spec: RouterSpec, lans: tuple[Lan, ...]) -> NodeStack:
        """The router's legs are named after their LANs (unique_ifname at build time)."""
        legs = [lan for lan in lans if lan.gateway is not None
                and (spec.lans is None or lan.name in spec.lans)]
        return resolve_stack(self.ctx, ("lab", "router"), spec, spec.name, devs=None,
                             subnets={lan.name: [lan.subnet] for lan in legs},
                             held=[lan.gateway for lan in legs if lan.gateway is not None],
                             claim=self.claim_stack_ip)

    def routers(self, lans: dict[str, Lan]) -> tuple[Router, ...]:
        """`routers:`: each router's legs (a LAN's gateway, or an address of its own)."""
        out: list[Router] = []
        for index, spec in enumerate(self.spec.lab.routers):
            path: Path = ("lab", "routers", index)
            legs = self.router_legs(path, spec, lans)
            subnets = {leg.lan: [lans[leg.lan].subnet] for leg in legs}
            stack = resolve_stack(self.ctx, path, spec, spec.name, devs=None, subnets=subnets,
                                  held=[leg.ip for leg in legs], claim=self.claim_stack_ip)
            onlink = (*(lans[leg.lan].subnet for leg in legs),
                      *(a.network for a in stack.addresses))
            self.check_routes(path, spec.routes, None, onlink)
            for table in stack.tables:
                self.check_routes((*path, "tables", table.id), list(table.routes), None,
                                  onlink, key=None)
            out.append(Router(name=spec.name, forward=spec.forward,
                              location=self.ctx.location(path), sysctls=dict(spec.sysctls),
                              sysctl_locations=self.sysctl_locations(path, spec.sysctls),
                              routes=self.located_routes(path, spec.routes),
                              firewall=tuple(spec.firewall), stack=stack,
                              lans=tuple(leg.lan for leg in legs), legs=legs))
        return tuple(out)

    def router_legs(self, path: Path, spec: RoutersItemSpec,
                    lans: dict[str, Lan]) -> tuple[RouterLeg, ...]:
        given: list[tuple[str, IPAddress | None, Path]]
        if isinstance(spec.lans, list):
            given = [(n, None, (*path, "lans", i)) for i, n in enumerate(spec.lans)]
        else:
            given = [(n, ip, (*path, "lans", n)) for n, ip in spec.lans.items()]
        legs: list[RouterLeg] = []
        for lan_name, ip, where in given:
            lan = self.known_lan(lans, lan_name, where)
            if lan is None:
                continue
            if any(leg.lan == lan_name for leg in legs):
                self.err(where, f"router '{spec.name}' has two legs on lan '{lan_name}'",
                         "One leg per LAN: give it a second address under addresses:")
                continue
            if ip is None and lan.gateway is None:
                self.err(where, f"lan '{lan_name}' has no gateway for router '{spec.name}' "
                                "to hold", f"Give the leg an address of its own: lans: "
                                           f"{{{lan_name}: {first_host(lan.subnet)}}}")
                continue
            address = lan.gateway if ip is None else ip
            assert address is not None
            if ip is not None and not self.check_host_ip(ip, lan.subnet, where,
                                                         f"lan '{lan_name}'"):
                continue
            if address == lan.gateway:
                holder = self.gateway_holder.get(lan_name)
                if holder is not None:
                    self.err(where, f"router '{spec.name}' and router '{holder[0]}' (line "
                                    f"{holder[1]}) both claim the gateway {address} of lan "
                                    f"'{lan_name}'",
                             f"One router holds a LAN's gateway; give this leg another "
                             f"address of {lan.subnet}: lans: {{{lan_name}: <address>}}")
                    continue
                self.gateway_holder[lan_name] = (spec.name, self.ctx.line(where))
            self.claim_lab_ip(address, f"router '{spec.name}' (lan '{lan_name}')", where)
            legs.append(RouterLeg(lan=lan_name, ip=address, location=self.ctx.location(where)))
        return tuple(legs)

    # --- the plan --------------------------------------------------------------------------

    def run(self) -> Plan:
        from netcheck.scenario.expand import Addressing, expand_expectations

        lans = self.lans()
        lans_by_name = {lan.name: lan for lan in lans}
        router_spec = self.spec.lab.router
        router = None
        if router_spec is not None:
            router = Router(name=router_spec.name, forward=router_spec.forward,
                            location=self.ctx.location(("lab", "router")),
                            sysctls=dict(router_spec.sysctls),
                            sysctl_locations=self.sysctl_locations(("lab", "router"),
                                                                   router_spec.sysctls),
                            routes=self.located_routes(("lab", "router"), router_spec.routes),
                            firewall=tuple(router_spec.firewall),
                            lans=None if router_spec.lans is None else tuple(router_spec.lans),
                            stack=self.router_stack(router_spec, lans))
        lab = Lab(lans=lans, router=router, routers=self.routers(lans_by_name),
                  machines=self.machines(lans_by_name), hosts=self.hosts(lans_by_name))
        segments.check_overlaps(lab, self.err)
        self.register_nodes(lab)
        self.check_firewall_peers(lab)
        networks = self.networks()
        endpoints = self.endpoints(lab, {n.name: n for n in networks})
        lab = self.with_implied_uplinks(lab)
        lab = overlay.vxlans(lab, self.spec.lab.hosts, {n.name: n for n in networks},
                             endpoints, self.err, self.ctx.location)
        services = self.services(lab, {n.name: n for n in networks})
        targets = self.named_targets()
        facts = node_facts(lab, {n.name: n for n in networks}, endpoints)
        expectations = expand_expectations(
            self.spec.expectations, self.nodes, self.ctx,
            Addressing(targets={t.name: t for t in targets}, facts=facts,
                       known=scenario_subnets(lab, networks)),
        )
        name = self.spec.name or os.path.splitext(os.path.basename(self.ctx.source))[0]
        runtime = None if self.spec.runtime in (None, "auto") else self.spec.runtime
        return Plan(
            name=name, source=self.ctx.source, description=self.spec.description, lab=lab,
            networks=networks, endpoints=endpoints, expectations=tuple(expectations),
            runtime=runtime, image=self.spec.image, variables=dict(self.variables),
            services=services, targets=targets, warnings=tuple(self.ctx.warnings),
        )


def off_subnet(spec: MachineSpec, subnet: IPNetwork) -> bool:
    """The machine's address is off its LAN's subnet (of the same family)."""
    return spec.ip.version == subnet.version and spec.ip not in subnet


def host_prefix(ip: IPAddress) -> IPNetwork:
    return ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")


def _vlan_parent(ifname: str) -> tuple[str | None, int | None]:
    """`eth0.100` -> ("eth0", 100), as Docker's macvlan driver splits a parent it creates."""
    base, _, tail = ifname.rpartition(".")
    if base and tail.isdigit() and tail == str(int(tail)) and 1 <= int(tail) <= 4094:
        return base, int(tail)
    return None, None


def _parse_mtu(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueProblem(f"{values.describe(text)} is not an MTU")
    mtu = int(text)
    if not 68 <= mtu <= 65535:
        raise ValueProblem(f"MTU {mtu} is out of range 68-65535")
    return mtu


def _enum_parser(enum: type[MacvlanMode] | type[IpvlanMode], noun: str) -> Callable[[str], object]:
    choices = [e.value for e in enum]

    def parse(text: str) -> object:
        if text not in choices:
            raise ValueProblem(f"{values.describe(text)} is not a {noun}",
                               did_you_mean(text, choices) or f"Use one of {one_of(choices)}")
        return enum(text)

    return parse
