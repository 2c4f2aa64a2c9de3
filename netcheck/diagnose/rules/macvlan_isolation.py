"""A macvlan child and its own parent host cannot talk: the kernel filters it by design."""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.model.plan import NodeKind
from netcheck.model.results import Finding, Interface, Node

_MACVLAN_MODES = {"1": "private", "2": "vepa", "4": "bridge", "8": "passthru", "16": "source"}


class MacvlanHostIsolation:
    id = "macvlan-host-isolation"

    def explain(self, case: Case) -> Finding | None:
        nodes = case.topology.nodes
        src = nodes.get(case.expectation.source)
        dst = nodes.get(case.expectation.target.node)
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
            return Finding(
                id=self.id,
                summary=(
                    f"{child.name} is a macvlan child of {host.name}'s {parent.ifname}; the "
                    "kernel never passes traffic between a macvlan child and its own parent"
                ),
                evidence=tuple(evidence),
                fix=(
                    f"on {host.name}, add a macvlan shim on {parent.ifname} and route the "
                    f"containers through it: ip link add mv-shim link {parent.ifname} type "
                    "macvlan mode bridge; ip addr add <spare-ip>/32 dev mv-shim; ip link set "
                    "mv-shim up; ip route add <container ip_range> dev mv-shim"
                ),
            )
        return None


def _parent_on(host: Node, iface: Interface) -> Interface | None:
    if iface.parent is None or iface.kind not in (None, "macvlan"):
        return None
    host_name, _, ifname = iface.parent.partition(":")
    if host_name != host.name:
        return None
    return next((i for i in host.interfaces if i.ifname == ifname), None)
