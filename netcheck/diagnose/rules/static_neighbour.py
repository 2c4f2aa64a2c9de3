"""A static neighbour entry that sends frames to the wrong MAC.

`ip neigh replace IP lladdr MAC nud permanent` pins the MAC the node uses for IP: the
kernel never asks ARP/ND again, so when the address's holder has another MAC (a replaced
NIC, a typo, a VIP that moved) every frame goes to a MAC nobody on the link has. Proved
from the node's own neighbour table (a PERMANENT or NOARP entry for the next hop) against
the MAC the run read from the interface that holds the address.
"""

from __future__ import annotations

import ipaddress

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import (
    kind_of,
    on_link,
    probe_line,
    source_address,
    source_node,
)
from netcheck.model.plan import IPAddress
from netcheck.model.results import Finding, Observation

_STATIC = ("PERMANENT", "NOARP")


def _next_hop(case: Case) -> tuple[IPAddress, str] | None:
    """(the address the source must resolve, how the run knows it)."""
    r = case.result
    src = source_node(case)
    if src is None or r.target_address is None:
        return None
    if on_link(src, r.target_address) is not None:
        return r.target_address, f"{r.target_address} is on-link for {src.name}"
    pinned = source_address(case)
    answer = case.live.route_lookup(src.netns, str(r.target_address),
                                    src=str(pinned) if pinned is not None else None)
    if answer.errno or not answer.gateway:
        return None
    return ipaddress.ip_address(answer.gateway), f"{src.name}: {answer.text}"


class StaticNeighbour:
    id = "static-neighbour"
    needs = (
        "a PERMANENT/NOARP entry in the source's neighbour table for the next hop, and the "
        "MAC of the interface that really holds that address (read at build time)"
    )
    remedy = "delete the static entry (ip neigh del) or give it the holder's MAC"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.SILENT or kind_of(case).resolves_neighbour:
            return None
        src = source_node(case)
        hop = _next_hop(case)
        if src is None or hop is None:
            return None
        address, how = hop
        entry = case.live.neighbours(src.netns).get(str(address))
        if entry is None or not any(s in entry[0] for s in _STATIC):
            return None
        state, mac = entry
        if mac is None:
            return None
        holders = [(n.name, i.ifname, i.mac) for n in case.topology.nodes.values()
                   for i in n.interfaces if i.address == address and i.mac]
        if not holders or any(m is not None and m.lower() == mac.lower()
                              for _, _, m in holders):
            return None  # the pinned MAC is the holder's: not this fault
        name, ifname, real = holders[0]
        owners = [f"{n.name} {i.ifname}" for n in case.topology.nodes.values()
                  for i in n.interfaces if i.mac and i.mac.lower() == mac.lower()]
        elsewhere = (f"{mac} belongs to {', '.join(owners)}" if owners else
                     f"no interface of the lab has {mac}")
        local = on_link(src, address)
        dev = local.ifname if local is not None else "<its interface>"
        return Finding(
            id=self.id,
            summary=f"{src.name} has a static neighbour entry for {address} with {mac}, "
                    f"but {address} is {name}'s ({real})",
            evidence=(
                how,
                f"{src.name}: neighbour {address} lladdr {mac} {state} (ip neigh: the kernel "
                "never resolves it again)",
                f"{name} {ifname} holds {address} with MAC {real}",
                elsewhere,
                probe_line(case),
            ),
            fix=f"on {src.name}: ip neigh del {address} dev {dev} (let ARP/ND "
                f"resolve it), or ip neigh replace {address} lladdr {real} nud permanent",
        )
