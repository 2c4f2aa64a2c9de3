"""The node that holds the address the source ARPs for refuses to answer, by its own
ARP settings, because the ARP arrives on an interface that does not fit:

- arp_ignore=1: answer only for an address configured on the receiving interface;
  arp_ignore=2: and only to a sender in that address's subnet (the kernel applies
  max(conf/all, conf/<if>));
- arp_filter=1: answer only if the node would route its reply to the sender out of the
  receiving interface (conf/all OR conf/<if>).

Linux answers for any of its addresses on any interface by default (the weak host model),
so a peer that reaches an address "through the wrong NIC" works until one of these is set.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import (
    holding,
    kind_of,
    probe_line,
    source_address,
    source_node,
)
from netcheck.model.plan import IPAddress
from netcheck.model.results import Finding, Interface, Node, Observation

_UNANSWERED = ("INCOMPLETE", "FAILED")


@dataclass(frozen=True, slots=True, kw_only=True)
class ArpAsk:
    node: Node  # who holds the address
    address: IPAddress  # what the source ARPs for
    holder_if: Interface  # where the address is configured
    iif: Interface  # where the ARP arrives
    sender: IPAddress
    unanswered: str  # the evidence line that no reply came


def _ask(case: Case) -> ArpAsk | None:
    r = case.result
    src = source_node(case)
    sender = source_address(case)
    if src is None or r.target_address is None or sender is None:
        return None
    route = case.live.route_lookup(src.netns, str(r.target_address))
    if route.errno:
        return None
    address = ipaddress.ip_address(route.gateway) if route.gateway else r.target_address
    out_dev = case.live.ifname(src.netns, route.oif)
    out = next((i for i in src.interfaces if i.ifname == out_dev), None)
    if out is None:
        return None
    if kind_of(case).resolves_neighbour and address == r.target_address:
        unanswered = f"ARP who-has {address} from {src.name}: {r.detail}"
    else:
        state = case.live.neighbours(src.netns).get(str(address))
        if state is None or not any(s in state[0] for s in _UNANSWERED):
            return None
        unanswered = f"neighbour {address} in {src.name}: {state[0]} (no ARP reply)"
    for node in case.topology.nodes.values():
        if node.name == src.name:
            continue
        holder_if = holding(node, address)
        if holder_if is None:
            continue
        iif = next((i for i in node.interfaces if i.network == out.network), None)
        if iif is None:
            return None
        return ArpAsk(node=node, address=address, holder_if=holder_if, iif=iif,
                      sender=sender, unanswered=unanswered)
    return None


_SILENT = (Observation.SILENT, Observation.ICMP_ERROR)


class ArpIgnore:
    """arp_ignore=1/2 on the node holding the address: no ARP reply on an interface the address
    is not on."""

    id = "arp-ignore"
    needs = (
        "the holder's effective arp_ignore (max of conf/all and the receiving interface), where"
        " the address is configured vs where the ARP arrives, the source's unanswered neighbour"
        " entry"
    )
    remedy = (
        "arp_ignore=0 on the receiving interface and conf/all, or reach the address through"
        " its own interface's network"
    )

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in _SILENT:
            return None
        ask = _ask(case)
        if ask is None:
            return None
        value, line = case.live.conf_effective(ask.node.netns, ask.iif.ifname, "arp_ignore")
        if value not in (1, 2):
            return None
        n = ask.node.name
        if ask.holder_if.ifname != ask.iif.ifname:
            why = (f"{ask.address} is on {n}'s {ask.holder_if.ifname}, the ARP arrives on "
                   f"{ask.iif.ifname}")
        elif value == 2 and ask.holder_if.prefix is not None \
                and ask.sender not in ask.holder_if.prefix:
            why = f"the sender {ask.sender} is outside {ask.holder_if.prefix}"
        else:
            return None
        finding = Finding(
            id=self.id,
            summary=f"{n} does not answer ARP for {ask.address} on {ask.iif.ifname}: "
                    f"arp_ignore={value} and {why}",
            evidence=(f"{n}: {line}", f"{n}: {why}", ask.unanswered, probe_line(case)),
            fix=f"on {n}: sysctl -w net.ipv4.conf.all.arp_ignore=0 and net.ipv4.conf."
                f"{ask.iif.ifname.replace('.', '/')}.arp_ignore=0, or reach {ask.address} "
                f"through {ask.holder_if.ifname}'s network (the address of {n} on "
                f"{ask.iif.network} instead)",
        )
        return Explained(finding=finding, strength=Strength.STATE)


class ArpFilter:
    """arp_filter=1 on the node holding the address: no ARP reply unless its route back to the
    sender leaves by the receiving interface."""

    id = "arp-filter"
    needs = (
        "arp_filter in conf/all or on the receiving interface, the holder's route lookup back "
        "to the sender, the source's unanswered neighbour entry"
    )
    remedy = "route the sender out of the receiving interface, or arp_filter=0"

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in _SILENT:
            return None
        ask = _ask(case)
        if ask is None:
            return None
        got = case.live.sysctls(ask.node.netns, [
            "net.ipv4.conf.all.arp_filter",
            f"net.ipv4.conf.{ask.iif.ifname.replace('.', '/')}.arp_filter"])
        raw = list(got.values())
        if not any(v is not None and v.strip() == "1" for v in raw):
            return None  # arp_filter off (the kernel ORs conf/all and conf/<if>)
        back = case.live.route_lookup(ask.node.netns, str(ask.sender), src=str(ask.address))
        back_dev = case.live.ifname(ask.node.netns, back.oif)
        if back.errno == 0 and back_dev == ask.iif.ifname:
            return None  # the reply would leave by the receiving interface: accepted
        n = ask.node.name
        settings = ", ".join(f"{k} = {v}" for k, v in got.items())
        finding = Finding(
            id=self.id,
            summary=f"{n} does not answer ARP for {ask.address} on {ask.iif.ifname}: "
                    f"arp_filter=1 and its route to {ask.sender} leaves by "
                    f"{back_dev or 'no interface'}",
            evidence=(f"{n}: {settings}", f"{n}: {back.text}", ask.unanswered,
                      probe_line(case)),
            fix=f"on {n}: route {ask.sender} out of {ask.iif.ifname} (ip route add "
                f"{ask.sender} dev {ask.iif.ifname}), or sysctl -w "
                "net.ipv4.conf.all.arp_filter=0 and the interface's arp_filter=0",
        )
        return Explained(finding=finding, strength=Strength.LOOKUP)
