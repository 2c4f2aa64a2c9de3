"""Lay out a run's topology as a bus diagram for the HTML report's SVG (geometry only).

Nodes (router, hosts with their endpoints, machines) sit in one row; every network or LAN is
a horizontal bus below them; a node drops a line onto each bus it has an address on. Failing
paths are arcs above the row, between source and target. The template turns this into SVG
elements, so every name is escaped there; nothing here builds markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netcheck.model.plan import Driver, NodeKind, Plan
from netcheck.model.results import Outcome, RunRecord

LABEL_W = 250  # left margin that holds the bus labels
COL_W = 150
BOX_W = 124
BOX_H = 50
BUS_GAP = 46
TOP = 16


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Arc:
    source: str
    target: str
    d: str  # SVG path data
    outcome: str  # fail | error
    title: str  # the expectation ids it stands for


@dataclass(frozen=True, slots=True, kw_only=True)
class TopologyLayout:
    width: float
    height: float
    nodes: tuple[NodeBox, ...]
    buses: tuple[Bus, ...]
    drops: tuple[Drop, ...]
    arcs: tuple[Arc, ...]

    @property
    def empty(self) -> bool:
        return not self.nodes


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    name: str
    kind: str
    host: str | None
    attachments: tuple[tuple[str, str], ...]  # (network, address)


def _nodes_from_record(record: RunRecord) -> list[_Node]:
    if record.topology is None:
        return []
    out = []
    for node in record.topology.nodes.values():
        atts = tuple(
            (i.network, str(i.address) if i.address is not None else i.ifname)
            for i in node.interfaces
        )
        out.append(_Node(name=node.name, kind=node.kind.value, host=node.host, attachments=atts))
    return out


def _nodes_from_plan(plan: Plan) -> list[_Node]:
    out: list[_Node] = []
    lab = plan.lab
    if lab.router is not None:
        atts = tuple((lan.name, str(lan.gateway or "")) for lan in lab.lans if lan.gateway)
        out.append(_Node(name=lab.router.name, kind="router", host=None, attachments=atts))
    for h in lab.hosts:
        atts = tuple((u.lan, str(u.ip) if u.ip else u.ifname) for u in h.uplinks)
        out.append(_Node(name=h.name, kind="host", host=None, attachments=atts))
    for m in lab.machines:
        out.append(_Node(name=m.name, kind="machine", host=None, attachments=((m.lan, str(m.ip)),)))
    for ep in plan.endpoints:
        atts = tuple((a.network, str(a.ip) if a.ip else "ipam") for a in ep.attachments)
        out.append(_Node(name=ep.name, kind="endpoint", host=ep.host, attachments=atts))
    return out


def _order(nodes: list[_Node]) -> list[_Node]:
    """Router, then each host followed by its endpoints, machines, then hostless endpoints."""
    rank = {
        NodeKind.ROUTER.value: 0,
        NodeKind.HOST.value: 1,
        NodeKind.MACHINE.value: 2,
        NodeKind.ENDPOINT.value: 3,
    }
    by_name = sorted(nodes, key=lambda n: (rank.get(n.kind, 9), n.name))
    out: list[_Node] = []
    for n in by_name:
        if n.kind == NodeKind.ENDPOINT.value and n.host is not None:
            continue
        out.append(n)
        if n.kind == NodeKind.HOST.value:
            out += [e for e in by_name if e.kind == NodeKind.ENDPOINT.value and e.host == n.name]
    placed = {n.name for n in out}
    out += [n for n in by_name if n.name not in placed]
    return out


def _bus_detail(name: str, plan: Plan | None, record: RunRecord) -> str:
    parts: list[str] = []
    if plan is not None:
        for net in plan.networks:
            if net.name == name:
                parts.append(net.driver.value)
                mode = net.macvlan_mode if net.driver is Driver.MACVLAN else net.ipvlan_mode
                if mode is not None:
                    parts[-1] += f" {mode.value}"
                if net.parent:
                    parts.append(f"parent {net.parent}")
                parts += [str(s.subnet) for s in net.subnets]
                if net.internal:
                    parts.append("internal")
                return " · ".join(parts)
        for lan in plan.lab.lans:
            if lan.name == name:
                parts.append("LAN" if lan.vlan is None else f"VLAN {lan.vlan}")
                parts.append(str(lan.subnet))
                if lan.mtu != 1500:
                    parts.append(f"mtu {lan.mtu}")
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


def _failing_pairs(record: RunRecord) -> dict[tuple[str, str], tuple[str, list[str]]]:
    pairs: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for v in record.verdicts:
        if v.outcome not in (Outcome.FAIL, Outcome.ERROR) or v.result is None:
            continue
        key = (v.result.source, v.result.target.split("@")[0])
        outcome, ids = pairs.get(key, (v.outcome.value, []))
        if v.outcome is Outcome.FAIL:
            outcome = Outcome.FAIL.value
        ids.append(v.expectation_id)
        pairs[key] = (outcome, ids)
    return pairs


def layout(record: RunRecord, plan: Plan | None = None) -> TopologyLayout:
    nodes = _nodes_from_record(record) or (_nodes_from_plan(plan) if plan else [])
    nodes = _order(nodes)
    if not nodes:
        return TopologyLayout(width=0, height=0, nodes=(), buses=(), drops=(), arcs=())
    column = {n.name: i for i, n in enumerate(nodes)}
    pairs = _failing_pairs(record)
    spans = [abs(column[s] - column[t]) for s, t in pairs if s in column and t in column]
    arc_h = min(40 + 22 * max(spans, default=0), 170) if spans else 0
    row_y = TOP + arc_h
    networks: list[str] = []
    for n in nodes:
        for net, _ in n.attachments:
            if net not in networks:
                networks.append(net)
    bus_y = {net: row_y + BOX_H + 44 + i * BUS_GAP for i, net in enumerate(networks)}
    width = LABEL_W + len(nodes) * COL_W + 10
    boxes: list[NodeBox] = []
    drops: list[Drop] = []
    failing = {s for s, _ in pairs} | {t for _, t in pairs}
    for i, n in enumerate(nodes):
        x = LABEL_W + i * COL_W + (COL_W - BOX_W) / 2
        sub = n.kind if n.host is None else f"{n.kind} on {n.host}"
        box = NodeBox(
            name=n.name, kind=n.kind, subtitle=sub, x=x, y=row_y, failing=n.name in failing
        )
        boxes.append(box)
        k = len(n.attachments)
        for j, (net, addr) in enumerate(n.attachments):
            dx = (j - (k - 1) / 2) * 14
            drops.append(
                Drop(
                    node=n.name, bus=net, x=box.cx + dx, y1=row_y + BOX_H, y2=bus_y[net], label=addr
                )
            )
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
    height = (max(bus_y.values()) if bus_y else row_y + BOX_H) + 30
    return TopologyLayout(
        width=width,
        height=height,
        nodes=tuple(boxes),
        buses=buses,
        drops=tuple(drops),
        arcs=tuple(arcs),
    )


def node_names(layout_: TopologyLayout) -> Iterable[str]:
    return (n.name for n in layout_.nodes)
