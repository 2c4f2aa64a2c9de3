"""Refuse a macvlan/ipvlan parent that carries the machine's default route (real hosts)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable

log = logging.getLogger(__name__)


def default_route_links() -> set[str]:
    """Names of the root namespace's links that carry a default route (v4 or v6)."""
    from pyroute2 import IPRoute

    names: set[str] = set()
    with IPRoute() as ipr:
        index_to_name = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in ipr.get_routes(family=family):
                if route["dst_len"] != 0 or route.get_attr("RTA_DST") is not None:
                    continue
                oifs = [route.get_attr("RTA_OIF")]
                for hop in route.get_attr("RTA_MULTIPATH") or []:
                    oifs.append(hop["oif"])
                names.update(index_to_name[o] for o in oifs if o in index_to_name)
        # A VLAN or macvlan sub-interface of such a link reaches the same wire.
        for link in ipr.get_links():
            lower = link.get_attr("IFLA_LINK")
            if lower in index_to_name and index_to_name[lower] in names:
                names.add(link.get_attr("IFLA_IFNAME"))
    return names


def uplink_parents(parents: Iterable[str], uplinks: set[str]) -> list[str]:
    """The parents that are, or are a VLAN sub-interface (`eth0.100`) of, an uplink."""
    return [p for p in parents if p in uplinks or p.split(".", 1)[0] in uplinks]
