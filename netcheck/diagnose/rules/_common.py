"""Small helpers the rules share: who is who in the topology, what a probe looked like.

A rule never switches on a probe kind's word: it asks the kind's traits (`kind_of`), which
the kind's own module declares (netcheck/probes/kinds)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from netcheck.diagnose.base import Case
from netcheck.model.plan import IPAddress
from netcheck.model.results import Interface, Node
from netcheck.probes.kinds import Kind, kind_for

_PROTO_NUMBERS = {"0": "all", "1": "icmp", "6": "tcp", "17": "udp"}
_RULE = re.compile(
    r"^\s*(?P<pkts>\d+)\s+(?P<bytes>\d+)\s+(?P<target>\S+)\s+(?P<prot>\S+)\s+(?P<opt>\S+)\s+"
    r"(?P<in>\S+)\s+(?P<out>\S+)\s+(?P<src>\S+)\s+(?P<dst>\S+)\s*(?P<extra>.*)$"
)


def kind_of(case: Case) -> Kind:
    """The probe's kind: its traits say what its packets are (IP protocol, counters...)."""
    return kind_for(case.result.probe.kind)


def source_node(case: Case) -> Node | None:
    return case.topology.nodes.get(case.expectation.source)


def target_node(case: Case) -> Node | None:
    """The target's node; for a literal target (`to: 10.20.0.5`), the built node holding
    that address, if any (a lab machine), so the rules can read its side too."""
    target = case.expectation.target
    if target.address is None:
        return case.topology.nodes.get(target.node)
    return next((n for n in case.topology.nodes.values()
                 if any(i.address == target.address for i in n.interfaces)), None)


def holding(node: Node, address: IPAddress | None) -> Interface | None:
    if address is None:
        return None
    return next((i for i in node.interfaces if i.address == address), None)


def on_link(node: Node, address: IPAddress | None) -> Interface | None:
    if address is None:
        return None
    return next(
        (i for i in node.interfaces if i.prefix is not None and address in i.prefix), None
    )


def source_address(case: Case) -> IPAddress | None:
    r = case.result
    if r.source_address is not None:
        return r.source_address
    src = source_node(case)
    if src is None or r.target_address is None:
        return None
    iface = on_link(src, r.target_address)
    if iface is not None:
        return iface.address
    return next(
        (i.address for i in src.interfaces
         if i.address is not None and i.address.version == r.target_address.version),
        None,
    )


def probe_line(case: Case) -> str:
    r = case.result
    return (
        f"probe {r.probe} {r.source}->{r.target} ({r.target_address}): "
        f"{r.observation.value}: {r.detail}"
    )


def sysctl_dev(ifname: str) -> str:
    """How sysctl(8) spells an interface with a dot: bond0.51 -> bond0/51."""
    return ifname.replace(".", "/")


def segment(case: Case, node: Node, iface: Interface) -> str:
    """The L2 segment an interface sits on: a lab LAN name, or host/bridge for bridges."""
    if iface.parent:
        host_name, _, parent_if = iface.parent.partition(":")
        host = case.topology.nodes.get(host_name)
        if host is not None:
            up = next((i for i in host.interfaces if i.ifname == parent_if), None)
            if up is not None:
                return up.network
        return iface.parent
    if node.host is not None and iface.kind in ("veth", "bridge", None):
        try:
            case.plan.network(iface.network)
        except KeyError:
            return iface.network
        return f"{node.host}/{iface.network}"
    return iface.network


@dataclass(frozen=True, slots=True, kw_only=True)
class FirewallHit:
    node: str
    chain: str
    line: str  # the iptables -L -v line
    target: str  # DROP / REJECT
    packets: int


def firewall_hits(case: Case, node: Node, chains: tuple[str, ...]) -> list[FirewallHit]:
    """DROP/REJECT rules in `node` that counted packets matching the probe's protocol."""
    want = kind_of(case).ip_proto
    hits: list[FirewallHit] = []
    for chain in chains:
        for line in case.live.iptables(node.netns, chain):
            m = _RULE.match(line)
            if m is None or m["target"] not in ("DROP", "REJECT"):
                continue
            if int(m["pkts"]) <= 0:
                continue
            # `-n` prints protocol numbers on iptables >= 1.8.8, names before.
            prot = _PROTO_NUMBERS.get(m["prot"], m["prot"])
            if prot not in ("all", want):
                continue
            port = case.result.probe.port
            if port is not None and "dpt:" in m["extra"] and f"dpt:{port}" not in m["extra"]:
                continue
            hits.append(FirewallHit(node=node.name, chain=chain, line=" ".join(line.split()),
                                    target=m["target"], packets=int(m["pkts"])))
    return hits


def ip_or_none(text: str | None) -> IPAddress | None:
    """An address the kernel printed (a gateway, a route's source), or None if it is none."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
