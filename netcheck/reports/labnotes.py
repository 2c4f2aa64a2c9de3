"""What a lab node has beyond one address per LAN, read from the plan, for the topology:
policy rules and their tables, extra addresses, static neighbours, routes, VXLAN devices,
per-port hairpin and link state, router legs. And the VXLAN tunnels between lab hosts,
paired end to end, with a VNI or port mismatch said as such. Pure: text and pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.model.plan import Host, Lab, NodeStack, Plan, Route, Vxlan, table_name

NO_DEFAULT = "no default route via the LAN's gateway (default_route: false)"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeNotes:
    """One node's settings, each a line in `ip` words, grouped by what they are."""

    legs: tuple[str, ...] = ()  # a router with legs on some LANs only: those LANs
    ports: tuple[str, ...] = ()  # "eth0: hairpin on its switch port", "eth0: no-carrier"
    addresses: tuple[str, ...] = ()  # "192.0.2.53/32 dev lo"
    routes: tuple[str, ...] = ()  # main-table routes, and "no default route (...)"
    tables: tuple[str, ...] = ()  # "table 100: default via 10.51.0.1 dev eth0"
    table_ids: tuple[str, ...] = ()  # the extra tables themselves ("100"): the badge counts them
    rules: tuple[str, ...] = ()  # "priority 100 from 10.51.0.11/32 lookup 100"
    neighbours: tuple[str, ...] = ()  # "10.71.0.20 lladdr ... dev eth0 nud permanent"
    vxlans: tuple[str, ...] = ()  # "vx42 id 42 remote 10.71.0.12 (a2) dstport 4789 ..."

    def groups(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(what, lines) for each kind the node has, in the order a reader wants them."""
        named = (
            ("legs", self.legs), ("ports", self.ports), ("addresses", self.addresses),
            ("routes", self.routes), ("tables", self.tables), ("rules", self.rules),
            ("neighbours", self.neighbours), ("vxlan", self.vxlans),
        )
        return tuple((what, lines) for what, lines in named if lines)

    def lines(self) -> tuple[str, ...]:
        return tuple(f"{what}: {line}" for what, lines in self.groups() for line in lines)

    def badge(self) -> str:
        """A short count per kind for the node's box: `2 rule · 1 tbl · 1 nbr · vx42`."""
        words = []
        for label, items in (("rule", self.rules), ("tbl", self.table_ids),
                             ("addr", self.addresses), ("nbr", self.neighbours)):
            if items:
                words.append(f"{len(items)} {label}")
        if any(r.startswith(NO_DEFAULT) for r in self.routes):
            words.append("no default")
        words += [v.split()[0] for v in self.vxlans]
        if any("hairpin" in p for p in self.ports):
            words.append("hairpin")
        words += [p.split(": ", 1)[1] for p in self.ports if "hairpin" not in p]
        if self.legs:
            words.append("legs " + ",".join(self.legs))
        return " · ".join(words)

    @property
    def empty(self) -> bool:
        return not self.groups()


def _route(route: Route, table: int | None = None) -> str:
    text = str(route)
    if route.dst.prefixlen == 0:
        text = "default" + text[len(str(route.dst)):]
    return text if table is None else f"table {table_name(table)}: {text}"


def vxlan_text(vx: Vxlan) -> str:
    words = [vx.name, *vx.ip_words()]
    if vx.master is not None:
        words.append(f"master {vx.master}")
    return " ".join(words)


def _stack(stack: NodeStack, routes: tuple[Route, ...]) -> dict[str, tuple[str, ...]]:
    main = [_route(r) for r in routes]
    if not stack.default_route:
        main.insert(0, NO_DEFAULT)
    return {
        "addresses": tuple(str(a) for a in stack.addresses),
        "routes": tuple(main),
        "tables": tuple(_route(r, t.id) for t in stack.tables for r in t.routes),
        "table_ids": tuple(str(t.id) for t in stack.tables),
        "rules": tuple(str(r) for r in stack.rules),
        "neighbours": tuple(str(n) for n in stack.neighbours),
    }


def _host_ports(lab: Lab, host: Host) -> tuple[str, ...]:
    out = []
    for up in host.uplinks:
        if up.hairpin and not lab.lan(up.lan).hairpin:
            out.append(f"{up.ifname}: hairpin on its switch port")
        if up.state != "up":
            out.append(f"{up.ifname}: {up.state}")
    return tuple(out)


def node_notes(plan: Plan) -> dict[str, NodeNotes]:
    """Each lab node's notes, by node name; nodes without any are left out."""
    lab = plan.lab
    out: dict[str, NodeNotes] = {}
    for r in lab.all_routers:
        legs = tuple(leg.lan for leg in lab.legs(r)) if r.lans is not None or r.legs else ()
        out[r.name] = NodeNotes(legs=legs, **_stack(r.stack, r.routes))
    for m in lab.machines:
        ports = (f"eth0: {m.state}",) if m.state != "up" else ()
        out[m.name] = NodeNotes(ports=ports, **_stack(m.stack, m.routes))
    for h in lab.hosts:
        out[h.name] = NodeNotes(ports=_host_ports(lab, h), vxlans=tuple(
            vxlan_text(vx) for vx in h.vxlans), **_stack(h.stack, h.routes))
    return {name: notes for name, notes in out.items() if not notes.empty}


@dataclass(frozen=True, slots=True, kw_only=True)
class Tunnel:
    """A raw VXLAN between two lab hosts: one device on each end (`b_dev` None: the remote
    host has no device pointing back, so nothing answers there)."""

    a: str
    a_dev: Vxlan
    b: str
    b_dev: Vxlan | None

    @property
    def mismatches(self) -> tuple[str, ...]:
        """What the two ends disagree on, as `VNI 42 ≠ 43` / `port 4789 ≠ 8472`."""
        if self.b_dev is None:
            return (f"no device on {self.b} points back to {self.a}",)
        out = []
        if self.a_dev.vni != self.b_dev.vni:
            out.append(f"VNI {self.a_dev.vni} ≠ {self.b_dev.vni}")
        if self.a_dev.port != self.b_dev.port:
            out.append(f"port {self.a_dev.port} ≠ {self.b_dev.port}")
        return tuple(out)

    @property
    def label(self) -> str:
        if self.mismatches and self.b_dev is not None:
            return " · ".join(self.mismatches)
        if self.b_dev is None:
            return f"VNI {self.a_dev.vni} · one-sided"
        return f"VNI {self.a_dev.vni} · port {self.a_dev.port}"

    @property
    def title(self) -> str:
        ends = [f"{self.a}: {vxlan_text(self.a_dev)}"]
        if self.b_dev is not None:
            ends.append(f"{self.b}: {vxlan_text(self.b_dev)}")
        verdict = ("MISMATCH: " + ", ".join(self.mismatches)) if self.mismatches else \
            "the ends agree on VNI and port"
        return f"VXLAN {self.a} ↔ {self.b}: {verdict}; " + "; ".join(ends)


def tunnels(plan: Plan) -> list[Tunnel]:
    """Each VXLAN device paired with the device on its remote lab host that points back
    (the same name first), each pair once."""
    hosts = {h.name: h for h in plan.lab.hosts}
    seen: set[tuple[str, str]] = set()
    out: list[Tunnel] = []
    for h in plan.lab.hosts:
        for vx in h.vxlans:
            if (h.name, vx.name) in seen or vx.remote_host not in hosts:
                continue
            seen.add((h.name, vx.name))
            peer = hosts[vx.remote_host]
            back = [p for p in peer.vxlans
                    if p.remote_host == h.name and (peer.name, p.name) not in seen]
            match = next((p for p in back if p.name == vx.name), back[0] if back else None)
            if match is not None:
                seen.add((peer.name, match.name))
            out.append(Tunnel(a=h.name, a_dev=vx, b=peer.name, b_dev=match))
    return out
