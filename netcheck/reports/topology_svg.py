"""Lay out a run's topology as a bus diagram for the HTML report's SVG (geometry only).

Nodes (router, hosts with their endpoints, machines) sit in one row; every network or LAN is
a horizontal bus below them; a node drops a line onto each bus it has an address on. Failing
paths are arcs above the row, between source and target. A swarm service is a framed group:
its own box (the name a probe targets), dropping its VIP onto each of its networks (vip mode)
or a dashed "dnsrr" line (the name resolves to the tasks), then one box per task (replica)
with the task's own address on each network, linked to the service. A lab node's settings
from the plan (labnotes.py: rules, tables, extra addresses, neighbours, VXLAN devices, ports,
router legs) are counted on a third line of its box and listed in its tooltip; a raw VXLAN
between two lab hosts is an arc above the row with its VNI and port, marked when the two
ends disagree. The template turns this into SVG elements, so every name is escaped there;
nothing here builds markup.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netcheck.model.plan import Driver, EndpointMode, IPAddress, NodeKind, Plan, Service
from netcheck.model.results import Node, Outcome, RunRecord, ServiceRecord
from netcheck.reports.labnotes import Tunnel, node_notes, tunnels

LABEL_W = 250  # left margin that holds the bus labels
COL_W = 150
BOX_W = 124
BOX_H = 50
BUS_GAP = 46
TOP = 16
MAX_TASKS = 6  # task boxes drawn per service; the service's title tells the full count
TASK = "task"  # the kind of a task box (a service's replica); not a probe target
RAIL = 12  # how far below the boxes a service's links to its tasks run
NOTE_H = 14  # a box grows by one line when some lab node has settings to count in it
# The boxes that may carry lab settings (an endpoint named like a host gets none).
LAB_KINDS = (NodeKind.ROUTER.value, NodeKind.HOST.value, NodeKind.MACHINE.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeBox:
    name: str
    kind: str  # router | host | machine | endpoint
    subtitle: str
    x: float
    y: float
    w: float = BOX_W
    h: float = BOX_H
    failing: bool = False
    service: str | None = None  # a service's box or one of its tasks: the service's name
    title: str = ""  # the tooltip; "" means "name (subtitle)"
    # A lab node's settings beyond its LAN addresses (reports/labnotes.py): a short count
    # per kind drawn in the box, and every line for its tooltip.
    badge: str = ""
    notes: tuple[str, ...] = ()

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Bus:
    name: str
    detail: str  # "macvlan bridge · parent host1:eth0 · 172.16.86.0/24"
    y: float
    x1: float  # where the label starts
    line_x1: float  # where the bar starts, right of the label
    x2: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """A node's attachment: a vertical line from its box onto a bus, and its address there."""

    node: str
    bus: str
    x: float
    y1: float
    y2: float
    label: str
    style: str = ""  # vip | dnsrr for a service's own drops


@dataclass(frozen=True, slots=True, kw_only=True)
class Arc:
    source: str
    target: str
    d: str  # SVG path data
    outcome: str  # fail | error
    title: str  # the expectation ids it stands for


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelArc:
    """A raw VXLAN between two lab hosts' boxes, drawn above the row; `mismatch` when the
    ends disagree on VNI or port (or one end has no device pointing back)."""

    a: str
    b: str
    d: str  # SVG path data
    label: str  # "VNI 42 · port 4789" or "VNI 42 ≠ 43"
    label_x: float
    label_y: float
    vnis: str  # "42 43": each end's VNI ("42 -" for a one-sided tunnel)
    ports: str  # "4789 4789"
    mismatch: bool
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceGroup:
    """The frame around a swarm service's box and its task boxes."""

    name: str
    mode: str  # vip | dnsrr
    networks: tuple[str, ...]
    replicas: int
    detail: str  # "swarm service · vip · 2 replicas · networks overnet · publish 8080:80/tcp"
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLink:
    """A service to one of its tasks: down from the service box, along a rail, up to the task."""

    service: str
    task: str
    mode: str
    d: str  # SVG path data


@dataclass(frozen=True, slots=True, kw_only=True)
class TopologyLayout:
    width: float
    height: float
    nodes: tuple[NodeBox, ...]
    buses: tuple[Bus, ...]
    drops: tuple[Drop, ...]
    arcs: tuple[Arc, ...]
    services: tuple[ServiceGroup, ...] = ()
    links: tuple[ServiceLink, ...] = ()
    tunnels: tuple[TunnelArc, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.nodes


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    name: str
    kind: str
    host: str | None
    attachments: tuple[tuple[str, str], ...]  # (network, address)
    service: str | None = None  # a service's box or task: which service
    subtitle: str | None = None  # None: "<kind> on <host>"
    title: str = ""
    drop_style: str = ""
    replicas: int = 0  # a service's box: how many tasks it asks for


def _nodes_from_record(record: RunRecord) -> list[_Node]:
    if record.topology is None:
        return []
    out = []
    for node in record.topology.nodes.values():
        if node.kind is NodeKind.SERVICE:
            continue  # drawn as a service group (see _services)
        atts = tuple(
            (i.network, str(i.address) if i.address is not None else i.ifname)
            for i in node.interfaces if i.kind != "loopback"
        )
        # Addresses on lo are on no network: named in the box's title instead of a bus.
        own = [f"{i.address}/{i.prefix.prefixlen} dev lo" for i in node.interfaces
               if i.kind == "loopback" and i.address is not None and i.prefix is not None]
        out.append(_Node(name=node.name, kind=node.kind.value, host=node.host, attachments=atts,
                         title="; ".join(own)))
    return out


def _nodes_from_plan(plan: Plan) -> list[_Node]:
    out: list[_Node] = []
    lab = plan.lab
    for router in lab.all_routers:
        atts = tuple((leg.lan, str(leg.ip)) for leg in lab.legs(router))
        out.append(_Node(name=router.name, kind="router", host=None, attachments=atts))
    for h in lab.hosts:
        atts = tuple((u.lan, str(u.ip) if u.ip else u.ifname) for u in h.uplinks)
        out.append(_Node(name=h.name, kind="host", host=None, attachments=atts))
    for m in lab.machines:
        out.append(_Node(name=m.name, kind="machine", host=None, attachments=((m.lan, str(m.ip)),)))
    for ep in plan.endpoints:
        atts = tuple((a.network, str(a.ip) if a.ip else "ipam") for a in ep.attachments)
        out.append(_Node(name=ep.name, kind="endpoint", host=ep.host, attachments=atts))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Service:
    name: str
    mode: str  # vip | dnsrr
    networks: tuple[str, ...]
    replicas: int
    placement: str | None  # the host its tasks are pinned to
    publish: tuple[str, ...]  # "8080:80/tcp"
    vips: Mapping[str, str]  # network -> the VIP the run got there
    tasks: tuple[tuple[str | None, tuple[str, ...]], ...]  # per task: (host, its addresses)
    built: bool | None  # None: no run topology to tell


def _task_addresses(found: ServiceRecord | None) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    """(host, addresses) per task the run found running."""
    if found is None:
        return ()
    return tuple((t.host, tuple(str(a) for a in t.addresses)) for t in found.tasks)


def _vips(node: Node | None, found: ServiceRecord | None) -> dict[str, str]:
    if node is not None:
        vips = {i.network: str(i.address) for i in node.interfaces if i.kind == "ipvs"}
        if vips:
            return vips
    return {} if found is None else {n: str(a) for n, a in found.vips.items()}


def _services(record: RunRecord, plan: Plan | None) -> list[_Service]:
    """The plan's services (or, without a plan, the record's), with what the run learnt."""
    topo = record.topology
    running = topo.services if topo is not None else {}
    built = {
        n.name: n
        for n in (topo.nodes.values() if topo is not None else ())
        if n.kind is NodeKind.SERVICE
    }
    specs: list[Service] = list(plan.services) if plan is not None else []
    named = {s.name for s in specs}
    for node in built.values():
        if node.name in named:
            continue
        found = running.get(node.name)
        vip = (found is not None and found.mode is EndpointMode.VIP) or any(
            i.kind == "ipvs" for i in node.interfaces
        )
        specs.append(
            Service(
                name=node.name,
                networks=tuple(dict.fromkeys(i.network for i in node.interfaces)),
                endpoint_mode=EndpointMode.VIP if vip else EndpointMode.DNSRR,
                replicas=max(len(found.tasks) if found is not None else 0, 1),
            )
        )
    out = []
    for svc in specs:
        built_node = built.get(svc.name)
        out.append(
            _Service(
                name=svc.name,
                mode=svc.endpoint_mode.value,
                networks=svc.networks,
                replicas=svc.replicas,
                placement=svc.host,
                publish=tuple(str(p) for p in svc.publish),
                vips=_vips(built_node, running.get(svc.name)),
                tasks=_task_addresses(running.get(svc.name)),
                built=None if topo is None else built_node is not None,
            )
        )
    return out


def _service_detail(svc: _Service) -> str:
    parts = [f"swarm service {svc.name}", svc.mode, f"{svc.replicas} replica(s)"]
    parts.append("networks " + ", ".join(svc.networks))
    if svc.placement is not None:
        parts.append(f"on {svc.placement}")
    if svc.publish:
        parts.append("publish " + ", ".join(svc.publish) + " (routing mesh)")
    if svc.vips:
        parts.append("VIP " + ", ".join(f"{n}={a}" for n, a in svc.vips.items()))
    if svc.built is False:
        parts.append("not built in this run")
    return " · ".join(parts)


def _service_nodes(svc: _Service) -> list[_Node]:
    """The service's box, then one box per task (at most MAX_TASKS)."""
    if svc.mode == EndpointMode.VIP.value:
        own = tuple((n, f"VIP {svc.vips[n]}" if n in svc.vips else "VIP") for n in svc.networks)
    else:
        own = tuple((n, "dnsrr") for n in svc.networks)
    sub = f"{svc.mode} · {svc.replicas} task{'s' if svc.replicas != 1 else ''}"
    if svc.built is False:
        sub = f"{svc.mode} · not built"  # the count is in the title: the box is narrow
    out = [
        _Node(
            name=svc.name,
            kind=NodeKind.SERVICE.value,
            host=svc.placement,
            attachments=own,
            service=svc.name,
            subtitle=sub,
            title=_service_detail(svc),
            drop_style=svc.mode,
            replicas=svc.replicas,
        )
    ]
    for slot in range(1, min(svc.replicas, MAX_TASKS) + 1):
        host, addrs = svc.tasks[slot - 1] if slot <= len(svc.tasks) else (None, ())
        host = host or svc.placement
        atts = tuple(
            (net, addrs[j] if j < len(addrs) else "ipam") for j, net in enumerate(svc.networks)
        )
        name = f"{svc.name}.{slot}"
        out.append(
            _Node(
                name=name,
                kind=TASK,
                host=host,
                attachments=atts,
                service=svc.name,
                subtitle=f"task on {host}" if host else "task · swarm places it",
                title=f"{name}: task {slot} of {svc.replicas} of service {svc.name}"
                + (f" on {host}" if host else ""),
            )
        )
    return out


def _order(nodes: list[_Node]) -> list[_Node]:
    """Router, then each host followed by its endpoints and the services pinned to it,
    machines, then hostless endpoints, then the other services. A service's tasks follow it."""
    rank = {
        NodeKind.ROUTER.value: 0,
        NodeKind.HOST.value: 1,
        NodeKind.MACHINE.value: 2,
        NodeKind.ENDPOINT.value: 3,
        NodeKind.SERVICE.value: 4,
    }
    tasks: dict[str, list[_Node]] = {}
    for n in nodes:
        if n.kind == TASK and n.service is not None:
            tasks.setdefault(n.service, []).append(n)
    by_name = sorted(
        (n for n in nodes if n.kind != TASK), key=lambda n: (rank.get(n.kind, 9), n.name)
    )
    guests = (NodeKind.ENDPOINT.value, NodeKind.SERVICE.value)
    out: list[_Node] = []

    def place(n: _Node) -> None:
        out.append(n)
        if n.kind == NodeKind.SERVICE.value:
            out.extend(tasks.get(n.name, ()))

    for n in by_name:
        if n.kind in guests and n.host is not None:
            continue
        if n.kind == NodeKind.SERVICE.value:
            continue  # after the hostless endpoints
        place(n)
        if n.kind == NodeKind.HOST.value:
            for guest in by_name:
                if guest.kind in guests and guest.host == n.name:
                    place(guest)
    placed = {id(n) for n in out}
    for n in by_name:
        if id(n) not in placed:
            place(n)
    return out


def _vxlan_ports(plan: Plan, network: str) -> list[str]:
    """Raw VXLAN devices that are ports of this network's bridges, as iproute2 words."""
    return [f"vxlan {h.name}:{vx.name} id {vx.vni} remote {vx.remote_host or vx.remote} "
            f"dstport {vx.port}" + (f" mtu {vx.mtu}" if vx.mtu else "")
            for h in plan.lab.hosts for vx in h.vxlans if vx.master == network]


def _bus_detail(name: str, plan: Plan | None, record: RunRecord) -> str:
    parts: list[str] = []
    if plan is not None:
        # External networks as the run read them from Docker, where the record has them.
        found = record.topology.networks if record.topology is not None else {}
        for net in plan.networks:
            if net.name == name:
                net = found.get(name, net)
                parts.append(net.driver.value if net.driver is not None
                             else net.driver_name or "?")
                if net.external:
                    parts.append("external")
                mode = net.macvlan_mode if net.driver is Driver.MACVLAN else net.ipvlan_mode
                if mode is not None:
                    parts[-1] += f" {mode.value}"
                if net.parent:
                    parts.append(f"parent {net.parent}")
                parts += [str(s.subnet) for s in net.subnets]
                if net.internal:
                    parts.append("internal")
                parts += _vxlan_ports(plan, name)
                return " · ".join(parts)
        for lan in plan.lab.lans:
            if lan.name == name:
                parts.append("LAN" if lan.vlan is None else f"VLAN {lan.vlan}")
                parts.append(str(lan.subnet))
                if lan.mtu != 1500:
                    parts.append(f"mtu {lan.mtu}")
                ports = [f"{h.name}:{u.ifname}" for h in plan.lab.hosts for u in h.uplinks
                         if u.lan == name and u.hairpin and not lan.hairpin]
                if lan.hairpin or ports:
                    parts.append("hairpin " + (", ".join(ports) if ports else "on"))
                return " · ".join(parts)
    if record.topology is not None:
        for node in record.topology.nodes.values():
            for i in node.interfaces:
                if i.network != name or i.kind is None:
                    continue
                parts.append(f"{i.kind} {i.mode}" if i.mode else i.kind)
                if i.parent:
                    parts.append(f"parent {i.parent}")
                if i.prefix is not None:
                    parts.append(str(i.prefix))
                return " · ".join(parts)
    return ""


def _target_box(record: RunRecord, target: str, address: IPAddress | None) -> str:
    """The box a probe's target is drawn as: its node, or for a literal target (`pg`,
    `10.20.0.5`) the node that holds the address, if the run built one."""
    node = target.split("@")[0]
    topology = record.topology
    if topology is None or node in topology.nodes or address is None:
        return node
    owner = next((n.name for n in topology.nodes.values()
                  if any(i.address == address for i in n.interfaces)), None)
    return owner or node


def _failing_pairs(record: RunRecord) -> dict[tuple[str, str], tuple[str, list[str]]]:
    pairs: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for v in record.verdicts:
        if v.outcome not in (Outcome.FAIL, Outcome.ERROR) or v.result is None:
            continue
        key = (v.result.source, _target_box(record, v.result.target, v.result.target_address))
        outcome, ids = pairs.get(key, (v.outcome.value, []))
        if v.outcome is Outcome.FAIL:
            outcome = Outcome.FAIL.value
        ids.append(v.expectation_id)
        pairs[key] = (outcome, ids)
    return pairs


OUTSIDE = "outside"  # a literal target no node of the run holds (`to: 10.20.0.5`)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _outside_nodes(record: RunRecord, plan: Plan | None, known: Iterable[str]) -> list[_Node]:
    """A box per literal target that is no node of the run: a dashed box with its address,
    on no network (netcheck does not know how it is wired), so arcs can point at it.
    Literal: a `targets:` name or an address in the plan; without the plan (a reloaded
    record), a target written as an address."""
    seen = set(known)
    literal = ({e.target.node for e in plan.expectations if e.target.literal}
               if plan is not None else None)
    out: list[_Node] = []
    for v in record.verdicts:
        r = v.result
        if r is None or r.target_address is None:
            continue
        if not (r.target in literal if literal is not None else _is_address(r.target)):
            continue
        box = _target_box(record, r.target, r.target_address)
        if box in seen or box != r.target:
            continue
        if record.topology is None or box in record.topology.nodes:
            continue
        seen.add(box)
        address = str(r.target_address)
        out.append(_Node(name=box, kind=OUTSIDE, host=None, attachments=(),
                         subtitle=address if address != box else "outside address",
                         title=f"{box}: {address}, an address outside the scenario's nodes",
                         drop_style="dashed"))
    return out


def layout(record: RunRecord, plan: Plan | None = None) -> TopologyLayout:
    nodes = _nodes_from_record(record) or (_nodes_from_plan(plan) if plan else [])
    nodes += _outside_nodes(record, plan, (n.name for n in nodes))
    for svc in _services(record, plan):
        nodes += _service_nodes(svc)
    nodes = _order(nodes)
    if not nodes:
        return TopologyLayout(width=0, height=0, nodes=(), buses=(), drops=(), arcs=())
    # Probe sources and targets by name; a task is neither, and may not shadow one.
    column = {n.name: i for i, n in enumerate(nodes) if n.kind != TASK}
    pairs = _failing_pairs(record)
    spans = [abs(column[s] - column[t]) for s, t in pairs if s in column and t in column]
    vx = [t for t in (tunnels(plan) if plan is not None else ())
          if t.a in column and t.b in column]
    spans += [abs(column[t.a] - column[t.b]) for t in vx]
    arc_h = min(40 + 22 * max(spans, default=0), 170) if spans else 0
    row_y = TOP + arc_h
    notes = node_notes(plan) if plan is not None else {}
    box_h = BOX_H + NOTE_H if any(n.name in notes for n in nodes) else BOX_H
    networks: list[str] = []
    for n in nodes:
        for net, _ in n.attachments:
            if net not in networks:
                networks.append(net)
    bus_y = {net: row_y + box_h + 44 + i * BUS_GAP for i, net in enumerate(networks)}
    width = LABEL_W + len(nodes) * COL_W + 10
    boxes: list[NodeBox] = []
    drops: list[Drop] = []
    failing = {s for s, _ in pairs} | {t for _, t in pairs}
    for i, n in enumerate(nodes):
        x = LABEL_W + i * COL_W + (COL_W - BOX_W) / 2
        sub = n.subtitle or (n.kind if n.host is None else f"{n.kind} on {n.host}")
        own = notes.get(n.name) if n.kind in LAB_KINDS else None
        box = NodeBox(
            name=n.name,
            kind=n.kind,
            subtitle=sub,
            x=x,
            y=row_y,
            h=box_h,
            failing=n.kind != TASK and n.name in failing,
            service=n.service,
            title=n.title,
            badge=own.badge() if own is not None else "",
            notes=own.lines() if own is not None else (),
        )
        boxes.append(box)
        k = len(n.attachments)
        for j, (net, addr) in enumerate(n.attachments):
            dx = (j - (k - 1) / 2) * 14
            drops.append(
                Drop(
                    node=n.name,
                    bus=net,
                    x=box.cx + dx,
                    y1=row_y + box_h,
                    y2=bus_y[net],
                    label=addr,
                    style=n.drop_style,
                )
            )
    groups, links = _service_groups(nodes, boxes, row_y, box_h)
    buses = tuple(
        Bus(
            name=net,
            detail=_bus_detail(net, plan, record),
            y=y,
            x1=12,
            line_x1=LABEL_W - 16,
            x2=width - 10,
        )
        for net, y in bus_y.items()
    )
    arcs = []
    for (s, t), (outcome, ids) in sorted(pairs.items()):
        if s not in column or t not in column:
            continue
        x1 = boxes[column[s]].cx - 8
        x2 = boxes[column[t]].cx + 8
        if s == t:
            x2 = x1 + 30
        span = abs(column[s] - column[t]) or 1
        lift = min(30 + 22 * span, arc_h)
        top = row_y - lift
        d = f"M {x1:.1f} {row_y:.1f} C {x1:.1f} {top:.1f} {x2:.1f} {top:.1f} {x2:.1f} {row_y:.1f}"
        arcs.append(Arc(source=s, target=t, d=d, outcome=outcome, title=", ".join(ids)))
    height = (max(bus_y.values()) if bus_y else row_y + box_h) + 30
    return TopologyLayout(
        width=width,
        height=height,
        nodes=tuple(boxes),
        buses=buses,
        drops=tuple(drops),
        arcs=tuple(arcs),
        services=groups,
        links=links,
        tunnels=tuple(_tunnel_arc(t, boxes[column[t.a]], boxes[column[t.b]], row_y, arc_h)
                      for t in vx),
    )


def _tunnel_arc(t: Tunnel, a: NodeBox, b: NodeBox, row_y: float, arc_h: float) -> TunnelArc:
    """A flatter arc than a failing path's, ending on the boxes' tops a little inwards."""
    x1, x2 = a.cx + 10, b.cx - 10
    if x1 > x2:
        x1, x2 = a.cx - 10, b.cx + 10
    lift = min(24 + 14 * max(abs(b.x - a.x) / COL_W, 1), arc_h)
    top = row_y - lift
    d = f"M {x1:.1f} {row_y:.1f} C {x1:.1f} {top:.1f} {x2:.1f} {top:.1f} {x2:.1f} {row_y:.1f}"
    peer = t.b_dev
    return TunnelArc(
        a=t.a, b=t.b, d=d, label=t.label, label_x=(x1 + x2) / 2,
        label_y=row_y - lift * 0.75 - 3,
        vnis=f"{t.a_dev.vni} {peer.vni if peer is not None else '-'}",
        ports=f"{t.a_dev.port} {peer.port if peer is not None else '-'}",
        mismatch=bool(t.mismatches), title=t.title,
    )


def _service_groups(
    nodes: list[_Node], boxes: list[NodeBox], row_y: float, box_h: float
) -> tuple[tuple[ServiceGroup, ...], tuple[ServiceLink, ...]]:
    """A frame around each service's box and its tasks, and a link from it to each task."""
    groups: list[ServiceGroup] = []
    links: list[ServiceLink] = []
    rail_y = row_y + box_h + RAIL
    for i, n in enumerate(nodes):
        if n.kind != NodeKind.SERVICE.value:
            continue
        own = boxes[i]
        tasks = [b for b in boxes[i + 1 :] if b.kind == TASK and b.service == n.name]
        last = tasks[-1] if tasks else own
        mode = n.drop_style
        for task in tasks:
            d = (
                f"M {own.x + own.w - 12:.1f} {row_y + box_h:.1f} V {rail_y:.1f} "
                f"H {task.x + 12:.1f} V {row_y + box_h:.1f}"
            )
            links.append(ServiceLink(service=n.name, task=task.name, mode=mode, d=d))
        groups.append(
            ServiceGroup(
                name=n.name,
                mode=mode,
                networks=tuple(net for net, _ in n.attachments),
                replicas=n.replicas,
                detail=n.title,
                x=own.x - 6,
                y=row_y - 6,
                w=last.x + last.w - own.x + 12,
                h=box_h + RAIL + 12,
            )
        )
    return tuple(groups), tuple(links)


def node_names(layout_: TopologyLayout) -> Iterable[str]:
    return (n.name for n in layout_.nodes)
