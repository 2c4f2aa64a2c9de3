"""Two macvlan children of one parent that their modes keep apart.

Only two bridge-mode children meet inside the host. Anything else between siblings goes
out of the parent and has to come back in on it: a `private` child never takes a frame
from a sibling, not even one an upstream switch reflects (hairpin); a `vepa` child does,
but only if the switch port sends frames back out of the port they came in on, which a
real switch does not do unless told to (reflective relay / hairpin).
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.live import LinkInfo
from netcheck.diagnose.rules._common import probe_line, source_node, target_node
from netcheck.model.plan import IPAddress
from netcheck.model.results import Finding, Interface, Node, Observation

MODES = {"1": "private", "2": "vepa", "4": "bridge", "8": "passthru", "16": "source"}
SWITCH_NODE = "sw"  # the netns runtime's lab switch (netcheck.runtime.naming.SWITCH)


@dataclass(frozen=True, slots=True, kw_only=True)
class Siblings:
    host: Node
    parent: str  # the parent's ifname in `host`
    src: tuple[Node, Interface, LinkInfo]
    dst: tuple[Node, Interface, LinkInfo]

    def mode(self, which: str) -> str:
        live = (self.src if which == "src" else self.dst)[2]
        return MODES.get(live.mode or "", live.mode or "?")

    def lines(self) -> list[str]:
        out = []
        for node, iface, live in (self.src, self.dst):
            mode = MODES.get(live.mode or "", live.mode or "?")
            out.append(f"{node.name} {iface.ifname}: kind macvlan, mode {mode}, parent "
                       f"{self.host.name} {self.parent} (link ifindex {live.link_index})")
        return out


def _child(case: Case, node: Node, address: IPAddress | None) -> tuple[Interface, LinkInfo
                                                                       ] | None:
    for iface in node.interfaces:
        if iface.parent is None or (address is not None and iface.address != address
                                    and not (iface.prefix and address in iface.prefix)):
            continue
        live = case.live.link(node.netns, iface.ifname)
        if live is not None and live.kind == "macvlan":
            return iface, live
    return None


def siblings(case: Case) -> Siblings | None:
    """The probe's two ends as macvlan children of one parent, from the kernel's links."""
    src, dst = source_node(case), target_node(case)
    if src is None or dst is None:
        return None
    t = _child(case, dst, case.result.target_address)
    if t is None:
        return None
    s = _child(case, src, t[0].address)
    if s is None or s[0].parent != t[0].parent or s[0].parent is None:
        return None
    host_name, _, parent_if = s[0].parent.partition(":")
    host = case.topology.nodes.get(host_name)
    if host is None or s[1].link_index != t[1].link_index:
        return None
    return Siblings(host=host, parent=parent_if, src=(src, *s), dst=(dst, *t))


def neighbour_line(case: Case, sib: Siblings) -> str | None:
    node, _, _ = sib.src
    target = str(case.result.target_address)
    state = case.live.neighbours(node.netns).get(target)
    if state is None:
        return None
    return f"neighbour {target} in {node.name}: {state[0]}"


def sibling_evidence(case: Case, sib: Siblings, *extra: str) -> tuple[str, ...]:
    """Both children's live links, what else the rule read, the source's neighbour entry for
    the target when there is one, and the probe itself."""
    neigh = neighbour_line(case, sib)
    return (*sib.lines(), *extra, *((neigh,) if neigh else ()), probe_line(case))


def switch_hairpin(case: Case, sib: Siblings) -> tuple[bool | None, str]:
    """The lab switch port the parent is wired to: does it hairpin? (read from the switch)"""
    parent = case.live.link(sib.host.netns, sib.parent)
    sw = case.topology.lab_netns.get(SWITCH_NODE)
    if parent is None or parent.kind != "veth" or parent.link_index is None or sw is None:
        return None, (f"the switch port behind {sib.host.name} {sib.parent} cannot be read "
                      "from here: it must reflect frames (hairpin) for vepa siblings to meet")
    flag = case.live.hairpin(sw, parent.link_index)
    if flag is None:
        return None, f"{sib.host.name} {sib.parent}'s switch port: hairpin flag unreadable"
    return flag, (f"lab switch port of {sib.host.name} {sib.parent} (ifindex "
                  f"{parent.link_index}): hairpin {'on' if flag else 'off'} (bridge port flag)")


_SILENT = (Observation.SILENT, Observation.ICMP_ERROR)


class MacvlanPrivate:
    """Two children of one macvlan parent, one in private mode: never a frame between them."""

    id = "macvlan-private"
    needs = (
        "both ends' live macvlan links: same parent, one of them in private mode; the source's "
        "unanswered neighbour entry"
    )
    remedy = "recreate the network in macvlan bridge mode"

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in _SILENT:
            return None
        sib = siblings(case)
        if sib is None or "private" not in (sib.mode("src"), sib.mode("dst")):
            return None
        private = [n.name for n, _, live in (sib.src, sib.dst)
                   if MODES.get(live.mode or "", live.mode) == "private"]
        evidence = sibling_evidence(case, sib)
        finding = Finding(
            id=self.id,
            summary=f"{' and '.join(private)} {'is' if len(private) == 1 else 'are'} in "
                    f"macvlan private mode on {sib.host.name}'s {sib.parent}: the kernel "
                    "passes no frame between children of one parent, hairpin or not",
            evidence=evidence,
            fix=f"recreate the network in bridge mode (docker network create -d macvlan -o "
                f"parent={sib.parent} -o macvlan_mode=bridge ...; in a scenario: "
                "macvlan_mode: bridge), or route the two through another host",
        )
        return Explained(finding=finding, strength=Strength.STATE)


class MacvlanVepa:
    """Two vepa children of one macvlan parent behind a switch port that does not hairpin."""

    id = "macvlan-vepa"
    needs = (
        "both ends' live macvlan links: same parent, vepa mode; the lab switch port's hairpin "
        "flag when it can be read"
    )
    remedy = "hairpin (reflective relay) on the switch port, or macvlan bridge mode"

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in _SILENT:
            return None
        sib = siblings(case)
        if sib is None:
            return None
        modes = (sib.mode("src"), sib.mode("dst"))
        if "private" in modes or "vepa" not in modes:
            return None
        hairpin, line = switch_hairpin(case, sib)
        if hairpin:
            return None  # the switch reflects: vepa siblings do meet, not this rule's
        evidence = sibling_evidence(case, sib, line)
        finding = Finding(
            id=self.id,
            summary=f"{sib.src[0].name} and {sib.dst[0].name} are macvlan children of "
                    f"{sib.host.name}'s {sib.parent} and not both in bridge mode (vepa): "
                    "their frames go out to the switch, which does not send them back",
            evidence=evidence,
            fix=f"turn on hairpin (reflective relay) on the switch port of {sib.host.name} "
                f"{sib.parent} (Linux bridge: bridge link set dev <port> hairpin on; in the "
                "lab: hairpin: true on the uplink, or lans.<lan>.hairpin: true for every "
                "port), or use macvlan_mode: bridge",
        )
        return Explained(finding=finding,
                         strength=Strength.STATE if hairpin is None else Strength.LOOKUP)
