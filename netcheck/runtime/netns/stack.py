"""Build a lab node's IP stack (model.plan.NodeStack) in its namespace with pyroute2, as
`ip address add`, `ip route add ... table N`, `ip rule add` and `ip neigh replace` would.

The runtime calls these once the node's links exist: `addresses` before any route (a
route's `src` must be held already), `tables_and_rules` and `neighbours` after its routes.
What the kernel refuses was asked for by one scenario line: `Refused` names it, and the
runtime turns it into a ScenarioBuildError (exit 2) there.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcheck.errors import Location
from netcheck.model.plan import ExtraAddress, Neighbour, NodeStack, NudState, PolicyRule, Route

# The kernel's NUD_* bits (include/uapi/linux/neighbour.h), as `ip neigh ... nud STATE`.
NUD_BITS = {
    NudState.REACHABLE: 0x02,
    NudState.STALE: 0x04,
    NudState.DELAY: 0x08,
    NudState.PROBE: 0x10,
    NudState.NOARP: 0x40,
    NudState.PERMANENT: 0x80,
}
RTNH_F_ONLINK = 4
IFA_F_NODAD = 0x02
# The kernel's answers that mean "this request makes no sense here" (the scenario's mistake).
SCENARIO_ERRNOS = frozenset({
    errno.EINVAL, errno.ERANGE, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENODEV,
    errno.ENOENT, errno.EEXIST, errno.EADDRNOTAVAIL,
})
_HINTS = {
    errno.ENETUNREACH: "The gateway must be on a subnet of one of the node's interfaces "
                       "(or the route needs onlink)",
    errno.EEXIST: "That exists already (a connected subnet, or given twice)",
    errno.EINVAL: "src must be one of the node's own addresses",
}


class Refused(Exception):
    """The kernel refused one scenario line's request."""

    def __init__(self, where: Location | None, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.where = where
        self.message = message
        self.hint = hint


def _index(ipr: IPRoute, node: str, ifname: str, where: Location | None) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        names = sorted(str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links())
        raise Refused(where, f"{node} has no interface {ifname!r}",
                      f"Its interfaces: {', '.join(names)}")
    return int(found[0])


def _call(where: Location | None, what: str, fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code not in SCENARIO_ERRNOS:
            raise
        name = errno.errorcode.get(exc.code, str(exc.code))
        raise Refused(where, f"{what}: the kernel refused it: {os.strerror(exc.code)} "
                             f"({name})", _HINTS.get(exc.code)) from exc


def route_kwargs(ipr: IPRoute, node: str, route: Route, table: int | None = None,
                 where: Location | None = None) -> dict[str, Any]:
    """`ip route add` fields of one route, src/onlink/table included."""
    kwargs: dict[str, Any] = {"dst": str(route.dst)}
    if route.via is not None:
        kwargs["gateway"] = str(route.via)
    if route.dev is not None:
        kwargs["oif"] = _index(ipr, node, route.dev, where or route.location)
    if route.src is not None:
        kwargs["prefsrc"] = str(route.src)
    if route.onlink:
        kwargs["flags"] = RTNH_F_ONLINK
    if table is not None:
        kwargs["table"] = table
    return kwargs


def add_route(ipr: IPRoute, node: str, route: Route, table: int | None = None,
              where: Location | None = None) -> None:
    where = route.location or where
    what = f"route {route}" + (f" table {table}" if table is not None else "") + f" in {node}"
    _call(where, what, ipr.route, "add", **route_kwargs(ipr, node, route, table, where))


def add_address(ipr: IPRoute, node: str, address: ExtraAddress) -> None:
    index = _index(ipr, node, address.dev, address.location)
    extra: dict[str, Any] = {}
    if address.ip.version == 6:
        extra["flags"] = IFA_F_NODAD  # a lab address needs no 1-2 s DAD wait
    _call(address.location, f"address {address} in {node}", ipr.addr, "add", index=index,
          address=str(address.ip), prefixlen=address.prefixlen, **extra)


def rule_kwargs(ipr: IPRoute, node: str, rule: PolicyRule) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "family": socket.AF_INET if rule.version == 4 else socket.AF_INET6,
        "table": rule.table,
        "action": "FR_ACT_TO_TBL",
    }
    if rule.priority is not None:
        kwargs["priority"] = rule.priority
    if rule.src is not None:
        kwargs["src"] = str(rule.src.network_address)
        kwargs["src_len"] = rule.src.prefixlen
    if rule.dst is not None:
        kwargs["dst"] = str(rule.dst.network_address)
        kwargs["dst_len"] = rule.dst.prefixlen
    if rule.iif is not None:
        kwargs["iifname"] = rule.iif
    if rule.oif is not None:
        kwargs["oifname"] = rule.oif
    return kwargs


def add_neighbour(ipr: IPRoute, node: str, entry: Neighbour) -> None:
    index = _index(ipr, node, entry.dev, entry.location)
    _call(entry.location, f"neighbour {entry} in {node}", ipr.neigh, "replace",
          dst=str(entry.ip), lladdr=entry.mac, ifindex=index,
          family=socket.AF_INET if entry.ip.version == 4 else socket.AF_INET6,
          state=NUD_BITS[entry.state])


def addresses(ipr: IPRoute, node: str, stack: NodeStack) -> None:
    for address in stack.addresses:
        add_address(ipr, node, address)


def tables_and_rules(ipr: IPRoute, node: str, stack: NodeStack) -> None:
    for table in stack.tables:
        for route in table.routes:
            add_route(ipr, node, route, table.id, table.location)
    for rule in stack.rules:
        _call(rule.location, f"rule {rule} in {node}", ipr.rule, "add",
              **rule_kwargs(ipr, node, rule))


def neighbours(ipr: IPRoute, node: str, stack: NodeStack) -> None:
    for entry in stack.neighbours:
        add_neighbour(ipr, node, entry)
