"""Expectation forms (from/to, mesh, isolated) -> one `Expectation` per source, target, probe.

Ids are `<probe>:<source>-><target>` (`icmp/df/1400:c1->c2@pub_net`); a dns probe with no
`to` (no expected answer) is `dns/NAME:<source>`. They are stable across runs: reports and
baselines key on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netcheck.model.plan import Expectation, NodeKind, ProbeKind, ProbeSpec, Target
from netcheck.scenario.paths import Path
from netcheck.scenario.schema import IsolatedExpectation, MeshExpectation, PairExpectation
from netcheck.scenario.suggest import did_you_mean, hint_for, one_of

if TYPE_CHECKING:
    from netcheck.scenario.resolve import Context, NodeInfo

AnyExpectation = PairExpectation | MeshExpectation | IsolatedExpectation


@dataclass(frozen=True, slots=True)
class _Pair:
    source: str
    target: Target | None  # None: a dns probe with no expected answer


class _Expander:
    def __init__(self, nodes: Mapping[str, NodeInfo], ctx: Context) -> None:
        self.nodes = nodes
        self.ctx = ctx
        self.ids: dict[str, int] = {}
        self.out: list[Expectation] = []

    def node(self, text: str, path: Path, *, as_target: bool) -> Target | None:
        name, at, via = text.partition("@")
        if name not in self.nodes:
            self.ctx.error(path, f"unknown node '{name}'",
                           hint_for(name, self.nodes, "endpoints, machines, hosts and router"))
            return None
        if not as_target and self.nodes[name].kind is NodeKind.SERVICE:
            self.ctx.error(path, f"service '{name}' can only be a probe target",
                           "Probe it from an endpoint: from: <endpoint>, to: " + name)
            return None
        if not at:
            return Target(node=name)
        if not as_target:
            self.ctx.error(path, f"'{text}': only a target can be pinned with @network",
                           f"Write '{name}'")
            return None
        vias = self.nodes[name].vias
        # `node@ipv6`/`node@ipv4` pins the address family (netcheck.engine.plan_tasks).
        if via not in vias and via not in ("ipv4", "ipv6") and not self.nodes[name].any_via:
            self.ctx.error(path, f"'{name}' is not on '{via}'",
                           f"{name} is on {one_of(vias)}" if vias else None)
            return None
        return Target(node=name, via=via)

    def nodes_of(self, items: Sequence[str], path: Path, *, as_target: bool) -> list[Target]:
        out: list[Target] = []
        for index, text in enumerate(items):
            item_path = (*path, index) if (*path, index) in self.ctx.lines else path
            found = self.node(text, item_path, as_target=as_target)
            if found is not None:
                out.append(found)
        return out

    def emit(self, index: int, spec: AnyExpectation, probe: ProbeSpec, pair: _Pair,
             reachable: bool, server: Target | None = None) -> None:
        path: Path = ("expectations", index)
        target = pair.target
        dns_server: str | None = None
        if probe.kind is ProbeKind.DNS:
            # `server` is where the query goes (default: the source's own resolver); `to`,
            # when given, is the node whose address the answer must hold.
            dns_server = server.node if server is not None else None
            exp_id = f"{probe}:{pair.source}->{target}" if target else f"{probe}:{pair.source}"
            target = target or Target(node=pair.source)
        else:
            assert target is not None
            exp_id = f"{probe}:{pair.source}->{target}"
        line = self.ctx.line(path)
        if exp_id in self.ids:
            self.ctx.error(path, f"check '{exp_id}' is already defined by the expectation at "
                                 f"line {self.ids[exp_id]}", "Remove one of them")
            return
        self.ids[exp_id] = line
        self.out.append(Expectation(
            id=exp_id, source=pair.source, target=target, probe=probe, reachable=reachable,
            reason=spec.reason, dns_server=dns_server, description=spec.description,
            location=self.ctx.location(path),
        ))

    def pair_form(self, index: int, spec: PairExpectation) -> int:
        path: Path = ("expectations", index)
        sources = self.nodes_of(spec.from_, (*path, "from"), as_target=False)
        targets = (self.nodes_of(spec.to, (*path, "to"), as_target=True)
                   if spec.to is not None else None)
        dns = [p for p in spec.probe if p.kind is ProbeKind.DNS]
        server: Target | None = None
        if spec.server is not None:
            if len(dns) != len(spec.probe):
                self.ctx.error((*path, "server"), "server applies only to dns probes",
                               "Move the dns probe into an expectation of its own")
                return 0
            server = self.node(spec.server, (*path, "server"), as_target=True)
            if server is None:
                return 0
        if targets is None and len(dns) != len(spec.probe):
            self.ctx.error(path, "missing required key 'to'",
                           "Only dns probes may leave out 'to' (they ask the source's resolver)")
            return 0
        count = 0
        for probe in spec.probe:
            for src in sources:
                for dst in targets if targets is not None else [None]:
                    if dst is not None and dst.node == src.node:
                        continue
                    if server is not None and server.node == src.node:
                        continue
                    self.emit(index, spec, probe, _Pair(src.node, dst), spec.reachable, server)
                    count += 1
        return count

    def mesh_form(self, index: int, spec: MeshExpectation) -> int:
        path: Path = ("expectations", index, "mesh")
        members = self.nodes_of(spec.mesh, path, as_target=False)
        names = [m.node for m in members]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            self.ctx.error(path, f"{one_of(twice)} listed twice")
            return 0
        count = 0
        for probe in spec.probe:
            for src in names:
                for dst in names:
                    if src != dst:
                        self.emit(index, spec, probe, _Pair(src, Target(node=dst)),
                                  spec.reachable)
                        count += 1
        return count

    def isolated_form(self, index: int, spec: IsolatedExpectation) -> int:
        path: Path = ("expectations", index, "isolated")
        groups: list[list[str]] = []
        where: dict[str, int] = {}
        for g_index, group in enumerate(spec.isolated):
            g_path = (*path, g_index) if (*path, g_index) in self.ctx.lines else path
            members = self.nodes_of(group, g_path, as_target=False)
            names: list[str] = []
            for m in members:
                if m.node in where:
                    self.ctx.error(g_path, f"'{m.node}' is in two groups "
                                           f"({where[m.node] + 1} and {g_index + 1})",
                                   "A node can be isolated from others, not from its own group")
                    continue
                where[m.node] = g_index
                names.append(m.node)
            groups.append(names)
        count = 0
        for probe in spec.probe:
            for a_index, group_a in enumerate(groups):
                for b_index, group_b in enumerate(groups):
                    if a_index == b_index:
                        continue
                    for src in group_a:
                        for dst in group_b:
                            self.emit(index, spec, probe, _Pair(src, Target(node=dst)), False)
                            count += 1
        return count


def expand_expectations(
    specs: Sequence[AnyExpectation], nodes: Mapping[str, NodeInfo], ctx: Context
) -> list[Expectation]:
    expander = _Expander(nodes, ctx)
    reasons: tuple[str, ...] | None = None
    for index, spec in enumerate(specs):
        before = len(ctx.errors)
        if spec.reason is not None:
            if reasons is None:
                from netcheck.engine.judge import known_reasons

                reasons = known_reasons()
            if spec.reason not in reasons:
                # The run could never pass: no finding or observation carries that id.
                ctx.error(("expectations", index, "reason"),
                          f"'{spec.reason}' is not a finding netcheck can report",
                          did_you_mean(spec.reason, reasons)
                          or f"Known reasons: {one_of(reasons, limit=len(reasons))}")
        if isinstance(spec, MeshExpectation):
            count = expander.mesh_form(index, spec)
        elif isinstance(spec, IsolatedExpectation):
            count = expander.isolated_form(index, spec)
        else:
            count = expander.pair_form(index, spec)
        if count == 0 and len(ctx.errors) == before:
            ctx.error(("expectations", index), "this expectation expands to no checks",
                      "Every pair in it is a node with itself")
    return expander.out
