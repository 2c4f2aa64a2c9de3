"""A lab node's IP stack from its spec: policy rules, their tables, extra addresses and
static neighbours, checked against what the file tells about the node (its interfaces and
the addresses it holds). The resolver calls `resolve_stack` for the router, each machine
and each host."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from netcheck.errors import Location
from netcheck.model.plan import (
    TABLE_NAMES,
    ExtraAddress,
    IPAddress,
    IPNetwork,
    Neighbour,
    NodeStack,
    NudState,
    PolicyRule,
    Route,
    RouteTable,
    table_name,
)
from netcheck.scenario.checks import inside
from netcheck.scenario.paths import Path
from netcheck.scenario.schema import NodeFeatures
from netcheck.scenario.suggest import one_of

_KERNEL_TABLES = frozenset(TABLE_NAMES.values())


class StackContext(Protocol):
    def error(self, path: Path, message: str, hint: str | None = None) -> None: ...
    def warn(self, path: Path, message: str, hint: str | None = None) -> None: ...
    def location(self, path: Path) -> Location: ...


# claim(ip, what, path, duplicate allowed): the resolver's lab address book
Claim = Callable[[IPAddress, str, Path, bool], None]


def _known(ifname: str, devs: Sequence[str] | None) -> bool:
    return devs is None or ifname in devs or ifname == "lo"


def extra_addresses(ctx: StackContext, path: Path, spec: NodeFeatures, node: str,
                    devs: Sequence[str] | None, claim: Claim) -> tuple[ExtraAddress, ...]:
    out: list[ExtraAddress] = []
    seen: set[tuple[IPAddress, str]] = set()
    for index, (ip, prefixlen, dev, duplicate) in enumerate(spec.addresses):
        item: Path = (*path, "addresses", index)
        if dev is None:
            if devs is None or len(devs) != 1:
                ctx.error(item, f"address {ip}/{prefixlen}: which interface?",
                          f"Add dev, e.g. '{ip}/{prefixlen} dev "
                          f"{devs[0] if devs else 'eth0'}' (or dev lo)")
                continue
            dev = devs[0]
        if not _known(dev, devs):
            ctx.error(item, f"address {ip}/{prefixlen}: {node} has no interface {dev!r}",
                      f"Its interfaces: {one_of([*(devs or ()), 'lo'])}")
            continue
        if (ip, dev) in seen:
            ctx.error(item, f"{ip} is given twice on {dev}")
            continue
        seen.add((ip, dev))
        claim(ip, f"{node} ({dev})", item, duplicate)
        out.append(ExtraAddress(ip=ip, prefixlen=prefixlen, dev=dev,
                                location=ctx.location(item)))
    return tuple(out)


def neighbours(ctx: StackContext, path: Path, spec: NodeFeatures, node: str,
               subnets: Mapping[str, Sequence[IPNetwork]],
               devs: Sequence[str] | None) -> tuple[Neighbour, ...]:
    out: list[Neighbour] = []
    for index, n in enumerate(spec.neighbours):
        item: Path = (*path, "neighbours", index)
        dev = n.dev
        if dev is None:
            on = [d for d, nets in subnets.items() if any(inside(n.ip, net) for net in nets)]
            if len(on) == 1:
                dev = on[0]
            elif devs is not None and len(devs) == 1:
                dev = devs[0]
            else:
                ctx.error(item, f"neighbour {n.ip}: which interface?",
                          "Add dev: the interface the entry belongs to")
                continue
        if not _known(dev, devs) or dev == "lo":
            ctx.error((*item, "dev"), f"neighbour {n.ip}: {node} has no interface {dev!r} "
                                      "to hold it", f"Its interfaces: {one_of(list(devs or ()))}")
            continue
        state = n.state
        if n.permanent is not None:
            said = NudState.PERMANENT if n.permanent else NudState.REACHABLE
            if state is not None and state is not said:
                ctx.error((*item, "permanent"), f"neighbour {n.ip}: permanent: "
                          f"{str(n.permanent).lower()} contradicts state: {state.value}",
                          "Keep only state: (permanent: false is state: reachable)")
                continue
            state = said
        out.append(Neighbour(ip=n.ip, mac=n.mac, dev=dev,
                             state=NudState.PERMANENT if state is None else state,
                             location=ctx.location(item)))
    return tuple(out)


def rules_and_tables(ctx: StackContext, path: Path, spec: NodeFeatures,
                     devs: Sequence[str] | None) -> tuple[tuple[PolicyRule, ...],
                                                          tuple[RouteTable, ...]]:
    tables: list[RouteTable] = []
    for table, routes in spec.tables.items():
        where: Path = (*path, "tables", table)
        if table in _KERNEL_TABLES:
            ctx.error(where, f"table {table_name(table)} is the kernel's own",
                      "Routes of the main table go under routes:; give an extra table a "
                      "number such as 100")
            continue
        located = tuple(replace(r, location=ctx.location((*where, i)))
                        for i, r in enumerate(routes))
        tables.append(RouteTable(id=table, routes=located, location=ctx.location(where)))
    by_id = {t.id: t for t in tables}
    rules: list[PolicyRule] = []
    used: set[int] = set()
    for index, r in enumerate(spec.rules):
        item: Path = (*path, "rules", index)
        if r.from_ is not None and r.to is not None and r.from_.version != r.to.version:
            ctx.error(item, f"rule from {r.from_} to {r.to}: not one IP version")
            continue
        bad = [d for d in (r.iif, r.oif) if d is not None and not _known(d, devs)]
        if bad:
            ctx.error(item, f"rule: this node has no interface {bad[0]!r}",
                      f"Its interfaces: {one_of([*(devs or ()), 'lo'])}")
            continue
        if r.table not in _KERNEL_TABLES:
            found = by_id.get(r.table)
            if found is None:
                known = ", ".join(str(t) for t in by_id) or "none"
                ctx.error((*item, "table"), f"rule looks up table {r.table}, which this node "
                                            f"does not have (its tables: {known})",
                          f"Add tables: {{{r.table}: [routes...]}} to the node, or look up "
                          "a table it has")
                continue
            if not found.routes:
                ctx.error((*item, "table"), f"rule looks up table {r.table}, which has no "
                                            "routes: the lookup falls through to the next rule",
                          f"Give table {r.table} its routes, e.g. 'default via <gateway>'")
                continue
            used.add(r.table)
        rules.append(PolicyRule(table=r.table, priority=r.priority, src=r.from_, dst=r.to,
                                iif=r.iif, oif=r.oif, location=ctx.location(item)))
    for t in tables:
        if t.id not in used:
            ctx.warn((*path, "tables", t.id), f"no rule looks up table {t.id}: its routes are "
                                              "never used",
                     f"Add rules: [{{from: <address>, table: {t.id}}}]")
    return tuple(rules), tuple(tables)


def check_sources(ctx: StackContext, path: Path, stack_routes: Sequence[tuple[Path, Route]],
                  held: Sequence[IPAddress]) -> None:
    """`src` must be an address the node holds: the kernel refuses any other."""
    for where, route in stack_routes:
        if route.src is not None and route.src not in held:
            ctx.error(where, f"route {route}: src {route.src} is not an address of this node",
                      "src names one of the node's own addresses (add it under addresses:)")


def resolve_stack(ctx: StackContext, path: Path, spec: NodeFeatures, node: str, *,
                  devs: Sequence[str] | None, subnets: Mapping[str, Sequence[IPNetwork]],
                  held: Sequence[IPAddress], claim: Claim,
                  default_route: bool = True) -> NodeStack:
    """`devs`: the interfaces the file gives the node (None: more appear at build time),
    `subnets`: the subnets each is on, `held`: the addresses it holds besides these."""
    addresses = extra_addresses(ctx, path, spec, node, devs, claim)
    all_subnets: dict[str, list[IPNetwork]] = {d: list(n) for d, n in subnets.items()}
    for a in addresses:
        all_subnets.setdefault(a.dev, []).append(a.network)
    rules, tables = rules_and_tables(ctx, path, spec, devs)
    routes: list[tuple[Path, Route]] = [((*path, "routes", i), r)
                                        for i, r in enumerate(spec.routes)]
    routes += [((*path, "tables", t.id, i), r) for t in tables for i, r in enumerate(t.routes)]
    check_sources(ctx, path, routes, [*held, *(a.ip for a in addresses)])
    return NodeStack(rules=rules, tables=tables, addresses=addresses,
                     neighbours=neighbours(ctx, path, spec, node, all_subnets, devs),
                     default_route=default_route)
