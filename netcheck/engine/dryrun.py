"""`netcheck run --dry-run`: what a run would create and send, read from the plan alone.

Pure: no namespace, link, Docker object, state file or packet. Nothing here may call a
runtime's build, probe the kernel's features (that makes a scratch namespace) or start a
worker. Each line is one item, in a stable order: objects in build order, then one line
per probe in expectation order.

Addresses are the ones the plan fixes, and for the netns runtime also the ones its IPAM
would hand out (`netcheck.runtime.netns.layout.resolve` is pure, and deterministic);
anything else says `address from IPAM` / `chosen by the kernel's route`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netcheck.model.plan import (
    Driver,
    Expectation,
    IPAddress,
    NodeStack,
    Plan,
    Route,
    Vxlan,
    table_name,
)
from netcheck.probes.kinds import kind_for
from netcheck.runtime.naming import LOCAL_HOST, SWITCH, netns_name, netns_path, object_name
from netcheck.runtime.netns.layout import EndpointLayout, resolve
from netcheck.runtime.netns.steps.lab import machine_prefix
from netcheck.runtime.state import state_path
from netcheck.scenario.sources import SourceFacts, node_facts

# The link kinds the netns runtime may use. A dry run cannot probe the kernel for them
# (that creates a namespace): it lists what the plan would build if they all exist.
ASSUMED_FEATURES = ("bridge", "dummy", "ipvlan", "macvlan", "veth", "vlan", "vxlan")


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRun:
    header: str
    objects: tuple[str, ...]
    probes: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [self.header, *self.objects, *self.probes, *self.notes]


def _lab_objects(plan: Plan, run_id: str, hosts: Sequence[str]) -> list[str]:
    """The underlay both runtimes build in namespaces: switch, router, machines, hosts."""
    out: list[str] = []
    lab = plan.lab
    if lab.lans:
        out.append(f"create netns {netns_path(run_id, SWITCH)} (the lab switch)")
    out += [f"create netns {netns_path(run_id, r.name)} (router)" for r in lab.all_routers]
    out += [f"create netns {netns_path(run_id, m.name)} (machine)" for m in lab.machines]
    out += [f"create netns {netns_path(run_id, h)} (host)" for h in hosts]
    sw = netns_name(run_id, SWITCH)
    for lan in lab.lans:
        vlan = f", vlan {lan.vlan}" if lan.vlan is not None else ""
        out.append(f"create bridge for LAN {lan.name} in {sw} ({lan.subnet}{vlan})")
    for router in lab.all_routers:
        for leg in lab.legs(router):
            out.append(f"create veth {router.name}:{leg.lan} to LAN {leg.lan} "
                       f"({leg.ip}/{lab.lan(leg.lan).subnet.prefixlen})")
    for m in lab.machines:
        prefix = machine_prefix(m.ip, lab.lan(m.lan).subnet).prefixlen
        out.append(f"create veth {m.name}:eth0 to LAN {m.lan} ({m.ip}/{prefix})")
    for host in lab.hosts:
        if host.name not in hosts:
            continue
        for up in host.uplinks:
            addr = f" ({up.ip}/{lab.lan(up.lan).subnet.prefixlen})" if up.ip else ""
            out.append(f"create veth {host.name}:{up.ifname} to LAN {up.lan}{addr}")
        for shim in host.shims:
            out.append(f"create macvlan {host.name}:{shim.name} on {host.name}:{shim.parent} "
                       f"({shim.ip})")
    return out


def _stack_lines(name: str, stack: NodeStack, routes: Iterable[Route]) -> list[str]:
    """A node's IP stack beyond its LAN addresses, in `ip` words, in the order it is built."""
    out = [f"add address in {name}: {a}" for a in stack.addresses]
    if not stack.default_route:
        out.append(f"no default route via the LAN's gateway in {name} (default_route: false)")
    out += [f"add route in {name}: {_route(r)}" for r in routes]
    out += [f"add route in {name}: {_route(r)} table {table_name(t.id)}"
            for t in stack.tables for r in t.routes]
    out += [f"add rule in {name}: {rule}" for rule in stack.rules]
    out += [f"add neighbour in {name}: {n}" for n in stack.neighbours]
    return out


def _route(route: Route) -> str:
    text = str(route)
    return "default" + text[len(str(route.dst)):] if route.dst.prefixlen == 0 else text


def _vxlan_line(host: str, vx: Vxlan) -> str:
    where = f", a port of network {vx.master}'s bridge" if vx.master else ""
    return f"create vxlan {host}:{vx.name} ({' '.join(vx.ip_words())}){where}"


def _node_settings(plan: Plan, hosts: Sequence[str]) -> list[str]:
    """What the lab's nodes get once their links exist: VXLAN devices, switch-port hairpin
    and link states, then each node's addresses, routes, tables, rules and neighbours."""
    lab = plan.lab
    out: list[str] = []
    shown = [h for h in lab.hosts if h.name in hosts]
    out += [_vxlan_line(h.name, vx) for h in shown for vx in h.vxlans]
    for h in shown:
        for up in h.uplinks:
            if up.hairpin and not lab.lan(up.lan).hairpin:
                out.append(f"set hairpin on for the switch port of {h.name}:{up.ifname} "
                           f"(LAN {up.lan})")
    states = [(m.name, "eth0", m.state) for m in lab.machines]
    states += [(h.name, u.ifname, u.state) for h in shown for u in h.uplinks]
    for node, ifname, state in states:
        if state == "down":
            out.append(f"set {node}:{ifname} down")
        elif state == "no-carrier":
            out.append(f"set the switch port of {node}:{ifname} down (no carrier on "
                       f"{node}:{ifname})")
    for router in lab.all_routers:
        out += _stack_lines(router.name, router.stack, router.routes)
    for m in lab.machines:
        out += _stack_lines(m.name, m.stack, m.routes)
    for h in shown:
        out += _stack_lines(h.name, h.stack, h.routes)
    return out


def _netns_objects(plan: Plan, run_id: str, layout: EndpointLayout) -> list[str]:
    hosts = [h.name for h in plan.lab.hosts]
    out = _lab_objects(plan, run_id, hosts)
    if layout.uses_local_host:
        out.append(f"create netns {netns_path(run_id, LOCAL_HOST)} (the implicit host)")
    out += [f"create netns {netns_path(run_id, ep.name)} (endpoint)" for ep in layout.endpoints]
    for host, nets in layout.host_bridges.items():
        for net in nets:
            out.append(f"create bridge for network {net} in {netns_name(run_id, host)}")
    for ep in layout.endpoints:
        for att in ep.attachments:
            kind = att.driver.value if att.driver in (Driver.MACVLAN, Driver.IPVLAN) else "veth"
            on = f" on {ep.host}:{att.parent}" if att.parent else f" to {ep.host}"
            addrs = ", ".join(str(a) for a in (att.address, *(m.address for m in att.more)))
            out.append(f"create {kind} {ep.name}:{att.ifname}{on} (network {att.network}, "
                       f"{addrs})")
    return out + _node_settings(plan, hosts)


def _docker_objects(plan: Plan, run_id: str, exps: Sequence[Expectation]) -> list[str]:
    lab_hosts = [h.name for h in plan.lab.hosts if h.docker_url is None]
    out = _lab_objects(plan, run_id, lab_hosts)
    out += [f"start dockerd in {netns_name(run_id, h)} (lab host {h}'s Docker)"
            for h in lab_hosts]
    out += _node_settings(plan, lab_hosts)
    daemons = [h.name for h in plan.lab.hosts] or ["the local daemon"]
    where = {h.name: (h.docker_url or f"lab host {h.name}") for h in plan.lab.hosts}

    def placed(host: str | None) -> str:
        if host is not None:
            return where.get(host, host)
        return where[daemons[0]] if plan.lab.hosts else "the local daemon"

    for net in plan.networks:
        if net.external:
            out.append(f"use existing docker network {net.name} (external: read, never "
                       "changed)")
            continue
        users = sorted({placed(ep.host) for ep in plan.endpoints
                        if any(a.network == net.name for a in ep.attachments)})
        homes = users or [placed(None)]
        if net.driver is Driver.OVERLAY:
            homes = homes[:1]
        driver = net.driver.value if net.driver is not None else "?"
        for home in homes:
            out.append(f"create docker network nc-{run_id}-{net.name} ({driver}) on {home}")
    for ep in plan.endpoints:
        if ep.container is not None:
            out.append(f"use existing container {ep.container} on {placed(ep.host)} (as "
                       f"{ep.name}: probed in its namespace, never changed)")
            continue
        nets = ", ".join(a.network for a in ep.attachments)
        out.append(f"create docker container nc-{run_id}-{ep.name} on {placed(ep.host)} "
                   f"(networks {nets})")
    for svc in plan.services:
        out.append(f"create docker service nc-{run_id}-{svc.name} ({svc.replicas} "
                   f"replica(s), networks {', '.join(svc.networks)})")
    # A container on a remote daemon is probed, and answers, through sidecars sharing its
    # network namespace (runtime/docker/remote.py).
    # A unix:// daemon is on this machine: its containers are entered by pid, no sidecar.
    remote = {ep.name: where[ep.host] for ep in plan.endpoints
              if ep.host is not None and not (plan.lab.host(ep.host).docker_url or
                                              "unix://").startswith("unix://")}
    ref = {ep.name: ep.container or object_name(run_id, ep.name) for ep in plan.endpoints}
    # An existing container never gets a listener: what it serves answers.
    listen = {ep.name for ep in plan.endpoints if ep.listen and ep.container is None}
    sources = list(dict.fromkeys(e.source for e in exps if e.source in remote))
    answer = list(dict.fromkeys(
        e.target.node for e in exps
        if kind_for(e.probe.kind).needs_listener and e.target.node in remote
        and e.target.node in listen
    ))
    out += [f"create probe sidecar for {n} on {remote[n]} (network_mode=container:"
            f"{ref[n]})" for n in sources]
    out += [f"create listening sidecar for {n} on {remote[n]} (network_mode=container:"
            f"{ref[n]})" for n in answer]
    return out


def _site(plan: Plan, runtime: str, run_id: str, node: str) -> str:
    ep = next((e for e in plan.endpoints if e.name == node), None)
    if runtime == "docker" and ep is not None:
        return f"container {ep.container or f'nc-{run_id}-{node}'}"
    return f"netns {netns_path(run_id, node)}"


def _addresses(plan: Plan, layout: EndpointLayout | None) -> dict[str, list[tuple[str, IPAddress]]]:
    """Each node's (network, address) pairs the dry run can know before anything exists."""
    facts = node_facts(plan.lab, {n.name: n for n in plan.networks}, plan.endpoints)
    out: dict[str, list[tuple[str, IPAddress]]] = {
        name: list(f.addresses) for name, f in facts.items()
    }
    if layout is not None:
        for ep in layout.endpoints:
            out[ep.name] = [(a.network, addr) for a in ep.attachments
                            for addr in (a.address, *(m.address for m in a.more))]
    return out


def _shares(facts: SourceFacts | None, addr: IPAddress) -> bool:
    return facts is not None and facts.on_link(addr)


def _probe_line(plan: Plan, exp: Expectation, runtime: str, run_id: str,
                known: dict[str, list[tuple[str, IPAddress]]],
                facts: dict[str, SourceFacts]) -> str:
    mine = known.get(exp.source, [])
    if exp.target.address is not None:
        dst: IPAddress | None = exp.target.address
    else:
        theirs = known.get(exp.target.node, [])
        if exp.target.via in ("ipv4", "ipv6"):
            version = 4 if exp.target.via == "ipv4" else 6
            theirs = [(n, a) for n, a in theirs if a.version == version]
        elif exp.target.via is not None:
            theirs = [(n, a) for n, a in theirs if n == exp.target.via]
        src_facts = facts.get(exp.source)
        near = [a for _, a in theirs if _shares(src_facts, a)]
        pick = near or [a for _, a in theirs]
        dst = pick[0] if pick else None
    dst_text = str(dst) if dst is not None else "address known once built"
    asks_server = kind_for(exp.probe.kind).asks_server
    if asks_server and not exp.target.literal and exp.target.node == exp.source:
        dst_text = "any answer"  # no `to`: nothing to hold in the answer
    if exp.source_address is not None:
        src_text = str(exp.source_address)
    elif exp.source_via is not None:
        pinned = [str(a) for n, a in mine if n == exp.source_via]
        src_text = ", ".join(pinned) or f"its address on {exp.source_via} (from IPAM)"
    else:
        # What the kernel picks for an on-link target: the address on that subnet.
        subnets = facts[exp.source].subnets if exp.source in facts else ()
        on_link = [a for n, a in mine if dst is not None and a.version == dst.version
                   and any(net == n and dst in sub and a in sub for net, sub in subnets)]
        src_text = str(on_link[0]) if on_link else "chosen by the kernel's route"
    if asks_server:
        server = (str(exp.dns_server_address) if exp.dns_server_address is not None
                  else exp.dns_server or "the source's resolver")
        dst_text += f", asking {server}"
    want = "reachable" if exp.reachable else "unreachable"
    to = str(exp.target) if str(exp.target) == dst_text else f"{exp.target} ({dst_text})"
    return (f"probe {exp.id}: {exp.probe} from {exp.source} "
            f"({_site(plan, runtime, run_id, exp.source)}, source {src_text}) "
            f"to {to}, expect {want}")


def dry_run(plan: Plan, expectations: Iterable[Expectation], runtime: str,
            run_id: str) -> DryRun:
    exps = list(expectations)
    layout: EndpointLayout | None = None
    notes: list[str] = []
    if runtime == "netns":
        layout = resolve(plan, ASSUMED_FEATURES)
        objects = _netns_objects(plan, run_id, layout)
        notes += [f"skip endpoint {name}: {why}" for name, why in sorted(
            layout.unavailable.items())]
        notes.append(f"kernel features not probed (that creates a namespace): assumes "
                     f"{', '.join(ASSUMED_FEATURES)}")
    else:
        objects = _docker_objects(plan, run_id, exps)
    objects.append(f"create state file {state_path(run_id)}")
    facts = node_facts(plan.lab, {n.name: n for n in plan.networks}, plan.endpoints)
    known = _addresses(plan, layout)
    probes = [_probe_line(plan, e, runtime, run_id, known, facts) for e in exps]
    header = (f"dry run of {plan.name} ({plan.source}) on the {runtime} runtime, run id "
              f"{run_id}: nothing is created, nothing is sent")
    return DryRun(header=header, objects=tuple(objects), probes=tuple(probes),
                  notes=tuple(notes))
