"""Which of a node's addresses a probe aims at (pure). Here, below the engine, because the
engine plans probes with it and diagnosis rules recompute it (port_closed)."""

from __future__ import annotations

from netcheck.model.plan import IPAddress
from netcheck.model.results import Node

# Target pins that name an address family rather than a network: `c2@ipv6`.
FAMILY_PINS = {"ipv4": 4, "ipv6": 6}


def shares_subnet(a: Node, addr: IPAddress) -> bool:
    return any(i.prefix is not None and addr in i.prefix for i in a.interfaces)


def target_address(source: Node, target: Node, via: str | None) -> IPAddress | None:
    """The address a probe from `source` should use for `target`.

    Prefer, in order: the address on the network/LAN named by `via`; an address on a subnet
    the source is directly on (what a user means by "c1 reaches the NAS"); the first address.
    """
    addrs = [i.address for i in target.interfaces if i.address is not None]
    if via in FAMILY_PINS and not any(i.network == via for i in target.interfaces):
        # `node@ipv6`: the node's address of that family, on a subnet the source shares
        # when there is one (a dual-stack network has both on one interface).
        addrs = [a for a in addrs if a.version == FAMILY_PINS[via]]
        shared = [a for a in addrs if shares_subnet(source, a)]
        pinned = shared or addrs
        return pinned[0] if pinned else None
    if via is not None:
        return target.address_on(via)
    for addr in addrs:
        if shares_subnet(source, addr):
            return addr
    same_family = [a for a in addrs if any(
        i.address is not None and i.address.version == a.version for i in source.interfaces
    )]
    pool = same_family or addrs
    return pool[0] if pool else None
