"""LAN subnets that overlap: fine on separate segments, refused where one node joins both.

Every LAN is its own L2 segment (its own bridge in the lab switch), so two VLANs may reuse
one subnet, as real sites do. What cannot work is a node with a leg on both: the router
(a leg on every LAN with a gateway) or a host with uplinks on both would hold two connected
routes to one subnet, and which leg a packet takes would be the kernel's guess.
"""

from __future__ import annotations

from collections.abc import Callable

from netcheck.model.plan import Lab, Lan
from netcheck.scenario.checks import overlaps
from netcheck.scenario.paths import Path

ErrFn = Callable[[Path, str, str | None], None]


def _joined_by(lab: Lab, a: Lan, b: Lan) -> str | None:
    """The node with a leg on both LANs, described; None when the segments stay apart."""
    for router in lab.all_routers:
        legs = {leg.lan for leg in lab.legs(router)}
        if a.name in legs and b.name in legs:
            return f"the router '{router.name}' has a leg on both"
    for host in lab.hosts:
        lans = {u.lan for u in host.uplinks}
        if a.name in lans and b.name in lans:
            return f"host '{host.name}' has uplinks on both"
    return None


def check_overlaps(lab: Lab, err: ErrFn) -> None:
    for index, lan in enumerate(lab.lans):
        for other in lab.lans[:index]:
            if not overlaps(lan.subnet, other.subnet):
                continue
            joined = _joined_by(lab, lan, other)
            if joined is not None:
                err(("lab", "lans", lan.name, "subnet"),
                    f"{lan.subnet} overlaps lan '{other.name}' ({other.subnet}) and {joined}",
                    "LANs may reuse a subnet only as separate segments: no node (the router "
                    "included) may have a leg on both; give them disjoint subnets, or take "
                    "the gateway off one")
