"""A macvlan child and its own parent host cannot talk: the kernel filters it by design."""

from __future__ import annotations

from ipaddress import ip_network

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import target_node
from netcheck.model.plan import NodeKind
from netcheck.model.results import Finding, Interface, Node

_MACVLAN_MODES = {"1": "private", "2": "vepa", "4": "bridge", "8": "passthru", "16": "source"}


class MacvlanHostIsolation:
    id = "macvlan-host-isolation"
    needs = (
        "the live link kind (macvlan) and parent of the child, the parent's address, the host's"
        " shim interfaces and the routes through them"
    )
    remedy = "a bridge-mode macvlan shim on the host with a route to the containers' range"

    def explain(self, case: Case) -> Finding | None:
        nodes = case.topology.nodes
        src = nodes.get(case.expectation.source)
        dst = target_node(case)
        if src is None or dst is None:
            return None
        if src.kind is NodeKind.ENDPOINT and dst.kind is NodeKind.HOST:
            child, host, toward_host = src, dst, True
        elif src.kind is NodeKind.HOST and dst.kind is NodeKind.ENDPOINT:
            child, host, toward_host = dst, src, False
        else:
            return None
        for iface in child.interfaces:
            parent = _parent_on(host, iface)
            if parent is None:
                continue
            live = case.live.link(child.netns, iface.ifname)
            if live is None or live.kind != "macvlan":
                continue  # trust the kernel, not the plan: only a live macvlan is isolated
            mode = _MACVLAN_MODES.get(live.mode or "", live.mode or "?")
            target = str(case.result.target_address)
            evidence = [
                f"{child.name} {iface.ifname} is a macvlan child (mode {mode}) of "
                f"{host.name} {parent.ifname} (kernel: kind=macvlan, link ifindex "
                f"{live.link_index})",
                f"{host.name} {parent.ifname} holds {parent.address}"
                if parent.address is not None
                else f"{host.name} {parent.ifname} is the parent",
                f"probe {case.result.probe} {case.result.source}->{target}: "
                f"{case.result.observation.value} ({case.result.detail})",
            ]
            if toward_host:
                neigh = case.live.neighbour_state(child.netns, target)
                if neigh:
                    evidence.append(f"neighbour {target} in {child.name}: {neigh}")
            shims = [i for i in host.interfaces if i.kind == "macvlan" and i.parent is not None
                     and i.parent.partition(":")[2] == parent.ifname]
            fix = _shim_fix(case, host, parent, iface)
            if shims and iface.address is not None:
                routes = case.live.routes_via(host.netns, [s.ifname for s in shims])
                covering = [r for r in routes if iface.address in ip_network(r, strict=False)]
                listed = ", ".join(routes) or "nothing"
                if not covering:
                    evidence.append(
                        f"{host.name} has shim(s) {', '.join(s.ifname for s in shims)} on "
                        f"{parent.ifname}, routing {listed}; none covers {child.name}'s "
                        f"{iface.address}"
                    )
                    fix = (
                        f"route {child.name}'s addresses through the shim on {host.name}: ip "
                        f"route add {_range_of(case, iface)} dev {shims[0].ifname}"
                    )
                elif mode == "bridge":
                    return None  # a shim routes it, both in bridge mode: the shim's job is done
                else:
                    # A bridge-mode shim meets a vepa/private child only through a switch
                    # that hairpins (private: never): the route is there and cannot help.
                    evidence.append(
                        f"{host.name} routes {', '.join(covering)} (covering {child.name}'s "
                        f"{iface.address}) through shim(s) {', '.join(s.ifname for s in shims)}"
                        f"; {child.name} is in {mode} mode, so the shim is a sibling it "
                        + ("never exchanges frames with" if mode == "private"
                           else "meets only if the switch port hairpins")
                    )
                    fix = (
                        f"recreate the network with macvlan_mode: bridge so the shim on "
                        f"{host.name} reaches {child.name} inside the host"
                        + ("" if mode == "private" else
                           f", or turn on hairpin on the switch port of {parent.ifname}")
                    )
            return Finding(
                id=self.id,
                summary=(
                    f"{child.name} is a macvlan child of {host.name}'s {parent.ifname}; the "
                    "kernel never passes traffic between a macvlan child and its own parent"
                ),
                evidence=tuple(evidence),
                fix=fix,
            )
        return None


def _range_of(case: Case, iface: Interface) -> str:
    """What a shim route should cover: the network's ip_range on that host, else the child."""
    try:
        net = case.plan.network(iface.network)
    except KeyError:
        net = None
    if net is not None and iface.address is not None:
        for sub in net.on_host(_host_of(iface)).subnets:
            if sub.ip_range is not None and iface.address in sub.ip_range:
                return str(sub.ip_range)
    return f"{iface.address}/{iface.address.max_prefixlen}" if iface.address else "<ip_range>"


def _host_of(iface: Interface) -> str | None:
    return iface.parent.partition(":")[0] if iface.parent else None


def _shim_fix(case: Case, host: Node, parent: Interface, iface: Interface) -> str:
    rng = _range_of(case, iface)
    return (
        f"on {host.name}, add a macvlan shim on {parent.ifname} and route the containers "
        f"through it: ip link add mv-shim link {parent.ifname} type macvlan mode bridge; "
        f"ip addr add <spare-ip>/32 dev mv-shim; ip link set mv-shim up; ip route add {rng} "
        f"dev mv-shim (in a scenario: lab.hosts.{host.name}.shims: {{mv-shim: {{parent: "
        f"{parent.ifname}, ip: <spare-ip>, routes: [{rng}]}}}})"
    )


def _parent_on(host: Node, iface: Interface) -> Interface | None:
    if iface.parent is None or iface.kind not in (None, "macvlan"):
        return None
    host_name, _, ifname = iface.parent.partition(":")
    if host_name != host.name:
        return None
    return next((i for i in host.interfaces if i.ifname == ifname), None)
