"""A macvlan/ipvlan parent that is down or has no carrier: its children lose the LAN.

Measured on Linux 6.18 (bridge-mode siblings on a veth parent, ping between them): a
parent set down (`ip link set eth0 down`) cuts its children off entirely, siblings included
(sendmsg fails); a parent that only lost carrier (its veth peer down: the cable is out)
hands NO-CARRIER on to every child, and siblings do not reach each other either (3 of 3
echo requests lost, the neighbour entry stays INCOMPLETE). The finding says which of the
two it is, and reads each sibling's own link state rather than assuming it.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import probe_line, source_node, target_node
from netcheck.model.results import Finding, Node, Observation


def _down(carrier: bool, operstate: str) -> bool:
    return not carrier or operstate in ("DOWN", "LOWERLAYERDOWN")


class ParentDown:
    id = "parent-down"
    needs = (
        "the parent's admin state, operstate and carrier, the child's and its siblings' own "
        "link states"
    )
    remedy = "bring the parent up and check its cable/switch port"

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
            admin = "up" if parent.admin_up else "down (ip link set down)"
            evidence = [
                f"{host.name} {parent_if}: admin {admin}, operstate {parent.operstate}, "
                f"carrier {int(parent.carrier)}",
            ]
            if child is not None:
                evidence.append(
                    f"{node.name} {iface.ifname} ({iface.kind} {iface.mode or ''} child of "
                    f"{iface.parent}): operstate {child.operstate}, carrier {int(child.carrier)}"
                )
            if siblings and not parent.admin_up:
                evidence.append(
                    f"children of the same parent, cut off as well: {', '.join(siblings)}"
                )
            elif siblings:
                evidence.append(
                    "children of the same parent: "
                    + "; ".join(self._child_state(case, iface.parent, name) for name in siblings)
                )
            evidence.append(probe_line(case))
            return Finding(
                id=self.id,
                summary=f"{host.name}'s {parent_if}, the parent of {node.name}'s "
                        f"{iface.ifname}, is "
                        + ("down" if not parent.admin_up else "without carrier")
                        + ": its macvlan children are cut off the LAN",
                evidence=tuple(evidence),
                fix=f"on {host.name}: bring {parent_if} up and check its cable/switch port "
                    f"(ip link set {parent_if} up; ip link show {parent_if} must say "
                    "LOWER_UP)",
            )
        return None

    def _child_state(self, case: Case, parent: str, name: str) -> str:
        node = case.topology.nodes[name]
        iface = next(i for i in node.interfaces if i.parent == parent)
        live = case.live.link(node.netns, iface.ifname)
        if live is None:
            return f"{name} {iface.ifname}: unreadable"
        return f"{name} {iface.ifname} operstate {live.operstate}, carrier {int(live.carrier)}"
