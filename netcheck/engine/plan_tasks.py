"""Turn expectations into probe tasks against a built topology (pure: no I/O)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from netcheck.errors import UsageError
from netcheck.model.addressing import shares_subnet, target_address
from netcheck.model.plan import Expectation, IPAddress
from netcheck.model.results import Node, Topology
from netcheck.probes.base import ListenTask, ProbeTask
from netcheck.probes.kinds import kind_for


def select(expectations: Sequence[Expectation], patterns: Iterable[str]) -> list[Expectation]:
    """Keep the expectations whose id matches any glob (`icmp:c1->*`); all when none given."""
    pats = [p for p in patterns if p]
    if not pats:
        return list(expectations)
    chosen = [e for e in expectations if any(fnmatch.fnmatchcase(e.id, p) for p in pats)]
    if not chosen:
        known = ", ".join(e.id for e in expectations[:6])
        raise UsageError(
            f"--only {' '.join(pats)!s}: matches no expectation. Ids look like: {known}"
        )
    return chosen


@dataclass(frozen=True, slots=True, kw_only=True)
class Unresolved:
    """An expectation that cannot become a probe, and why."""

    expectation_id: str
    reason: str
    skip: bool  # True: the runtime could not build a node (skip); False: could not test (error)


def owner_of(nodes: Mapping[str, Node], address: IPAddress) -> str | None:
    """The built node that holds `address` (a literal target that is a lab machine)."""
    for node in nodes.values():
        if any(i.address == address for i in node.interfaces):
            return node.name
    return None


def _pinned_view(src: Node, exp: Expectation) -> Node | str:
    """The source as a pinned probe sees it: only the interfaces holding the pinned
    address(es). A string says why it cannot be pinned (an error verdict)."""
    if exp.source_via is not None:
        held = tuple(i for i in src.interfaces
                     if i.network == exp.source_via and i.address is not None)
        if not held:
            return f"{exp.source} has no address on {exp.source_via}"
    elif exp.source_address is not None:
        held = tuple(i for i in src.interfaces if i.address == exp.source_address)
        if not held:
            have = ", ".join(str(i.address) for i in src.interfaces if i.address) or "none"
            return (f"{exp.source} does not hold the source address {exp.source_address} "
                    f"(its addresses: {have})")
    else:
        return src
    return replace(src, interfaces=held)


def _source_address(view: Node, exp: Expectation, target: IPAddress) -> IPAddress | str | None:
    """The pinned source address of the target's family; None when the source is not pinned."""
    if exp.source_via is None and exp.source_address is None:
        return None
    same = [i.address for i in view.interfaces
            if i.address is not None and i.address.version == target.version]
    if not same:
        where = f" on {exp.source_via}" if exp.source_via else ""
        return (f"{exp.source} has no IPv{target.version} address{where} to reach "
                f"{target} from")
    on_link = [a for a in same if shares_subnet(view, target)]
    return (on_link or same)[0]


def build_tasks(
    expectations: Sequence[Expectation],
    topology: Topology,
    unavailable: Mapping[str, str],
) -> tuple[list[ProbeTask], list[Unresolved]]:
    tasks: list[ProbeTask] = []
    unresolved: list[Unresolved] = []
    nodes = topology.nodes

    def error(exp: Expectation, reason: str) -> None:
        unresolved.append(Unresolved(expectation_id=exp.id, reason=reason, skip=False))

    for exp in expectations:
        if exp.id in unavailable:  # one check the runtime cannot build (e.g. a mesh port)
            unresolved.append(
                Unresolved(expectation_id=exp.id, reason=unavailable[exp.id], skip=True)
            )
            continue
        involved = [exp.source] if exp.target.literal else [exp.source, exp.target.node]
        missing = [n for n in involved if n in unavailable]
        if missing:
            unresolved.append(
                Unresolved(
                    expectation_id=exp.id,
                    reason=f"{missing[0]}: {unavailable[missing[0]]}",
                    skip=True,
                )
            )
            continue
        src = nodes.get(exp.source)
        dst = None if exp.target.literal else nodes.get(exp.target.node)
        if src is None or (dst is None and not exp.target.literal):
            absent = exp.source if src is None else exp.target.node
            error(exp, f"{absent}: not built by the {topology.runtime} runtime")
            continue
        view = _pinned_view(src, exp)
        if isinstance(view, str):
            error(exp, view)
            continue
        if dst is None:
            addr = exp.target.address
        else:
            addr = target_address(view, dst, exp.target.via)
            if addr is None and view is not src:
                addr = target_address(src, dst, exp.target.via)
        if addr is None:
            where = f" on {exp.target.via}" if exp.target.via else ""
            error(exp, f"{exp.target.node} has no address{where}")
            continue
        source_address = _source_address(view, exp, addr)
        if isinstance(source_address, str):
            error(exp, source_address)
            continue
        dns_server: IPAddress | None = None
        if kind_for(exp.probe.kind).asks_server:
            dns_server = _dns_server(exp, view, nodes)
            if dns_server is None:
                error(exp, f"{exp.source} has no DNS resolver to ask")
                continue
        tasks.append(
            ProbeTask(
                probe_id=exp.id,
                source=exp.source,
                source_site=src.site,
                target=str(exp.target),
                target_address=addr,
                probe=exp.probe,
                dns_server=dns_server,
                source_address=source_address,
                target_node=exp.target.node if dst is not None else owner_of(nodes, addr),
            )
        )
    return tasks, unresolved


def _dns_server(exp: Expectation, src: Node, nodes: Mapping[str, Node]) -> IPAddress | None:
    if exp.dns_server_address is not None:
        return exp.dns_server_address
    if exp.dns_server is not None:
        server = nodes.get(exp.dns_server)
        return None if server is None else target_address(src, server, None)
    return src.resolver


def listener_targets(tasks: Iterable[ProbeTask]) -> set[str]:
    """Nodes that tcp/udp probes aim at: ICMP, ARP and DNS are answered by the kernel or
    Docker, and a responder costs a process per namespace. A literal target that is a lab
    node's address gets that node's own `listen:` ports: what really listens there."""
    return {t.target_node for t in tasks
            if kind_for(t.probe.kind).needs_listener and t.target_node is not None}


def without_listener(
    tasks: Sequence[ProbeTask], failed: Mapping[str, str]
) -> tuple[list[ProbeTask], list[Unresolved]]:
    """A tcp/udp probe to a node whose listener never started tests nothing: its RST or
    silence would say "closed" about a port nobody opened. Those become errors."""
    keep: list[ProbeTask] = []
    lost: list[Unresolved] = []
    for task in tasks:
        node = task.target_node
        if node is not None and node in failed and kind_for(task.probe.kind).needs_listener:
            lost.append(
                Unresolved(
                    expectation_id=task.probe_id,
                    reason=f"{node}: its listener could not start: {failed[node]}",
                    skip=False,
                )
            )
        else:
            keep.append(task)
    return keep, lost


def listen_tasks(topology: Topology, needed: Iterable[str]) -> list[ListenTask]:
    """Responders only for nodes some probe targets: idle listeners cost a process each."""
    wanted = set(needed)
    return [
        ListenTask(node=n.name, site=n.site, ports=n.listen)
        for n in topology.nodes.values()
        if n.listen and n.name in wanted
    ]
