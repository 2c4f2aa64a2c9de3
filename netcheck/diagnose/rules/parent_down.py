"""A macvlan/ipvlan parent without carrier: its children are cut off, even from each other.

A macvlan child follows its lower device's carrier; with no carrier the kernel stops
transmitting on the children too, so even bridge-mode siblings (which never touch the
wire to talk to each other) cannot meet.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import probe_line, source_node, target_node
from netcheck.model.results import Finding, Node, Observation


def _down(carrier: bool, operstate: str) -> bool:
    return not carrier or operstate in ("DOWN", "LOWERLAYERDOWN")


class ParentDown:
    id = "parent-down"

    def explain(self, case: Case) -> Finding | None:
        if case.result.observation in (Observation.ANSWERED, Observation.REFUSED):
            return None
        for node in (source_node(case), target_node(case)):
            if node is None:
                continue
            found = self._parent_problem(case, node)
            if found is not None:
                return found
        return None

    def _parent_problem(self, case: Case, node: Node) -> Finding | None:
        for iface in node.interfaces:
            if not iface.parent:
                continue
            host_name, _, parent_if = iface.parent.partition(":")
            host = case.topology.nodes.get(host_name)
            if host is None:
                continue
            parent = case.live.link(host.netns, parent_if)
            if parent is None or not _down(parent.carrier, parent.operstate):
                continue
            child = case.live.link(node.netns, iface.ifname)
            siblings = sorted(
                n.name for n in case.topology.nodes.values()
                if n.name != node.name and any(i.parent == iface.parent for i in n.interfaces)
            )
            evidence = [
                f"{host.name} {parent_if}: operstate {parent.operstate}, carrier "
                f"{int(parent.carrier)}",
            ]
            if child is not None:
                evidence.append(
                    f"{node.name} {iface.ifname} ({iface.kind} {iface.mode or ''} child of "
                    f"{iface.parent}): operstate {child.operstate}, carrier {int(child.carrier)}"
                )
            if siblings:
                evidence.append(
                    f"children of the same parent, cut off as well: {', '.join(siblings)}"
                )
            evidence.append(probe_line(case))
            return Finding(
                id=self.id,
                summary=f"{host.name}'s {parent_if}, the parent of {node.name}'s "
                        f"{iface.ifname}, has no carrier: its children cannot send at all",
                evidence=tuple(evidence),
                fix=f"on {host.name}: bring {parent_if} up and check its cable/switch port "
                    f"(ip link set {parent_if} up; ip link show {parent_if} must say "
                    "LOWER_UP)",
            )
        return None
