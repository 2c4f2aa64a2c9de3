"""Expectation forms (from/to, mesh, isolated) -> one `Expectation` per source, target, probe.

Ids are `<probe>:<source>-><target>` (`icmp/df/1400:c1->c2@pub_net`); a dns probe with no
`to` (no expected answer) is `dns/NAME:<source>`. They are stable across runs: reports and
baselines key on them.

A pinned source is `c1@net` (`from: c1@net`) or `c1@<address>` (`source:`); a literal
target is its `targets:` name or its address as Python's ipaddress prints it (IPv6
compressed, lower case, no brackets: `icmp:c1->fd00:20::5`). Brackets would be a character
class to `--only`'s glob; the id still splits unambiguously, as the probe is what comes
before the first ':' and the target what follows the '->'.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netcheck.model.plan import (
    Expectation,
    IPAddress,
    IPNetwork,
    NamedTarget,
    NodeKind,
    ProbeSpec,
    Target,
)
from netcheck.probes.kinds import kind_for
from netcheck.scenario.context import Context, NodeInfo
from netcheck.scenario.paths import Path
from netcheck.scenario.schema import IsolatedExpectation, MeshExpectation, PairExpectation
from netcheck.scenario.sources import SourceFacts, reaches
from netcheck.scenario.suggest import did_you_mean, hint_for, one_of

AnyExpectation = PairExpectation | MeshExpectation | IsolatedExpectation


@dataclass(frozen=True, slots=True)
class Addressing:
    """What expansion needs beyond the node names: named targets and each node's addressing."""

    targets: Mapping[str, NamedTarget] = field(default_factory=dict)
    facts: Mapping[str, SourceFacts] = field(default_factory=dict)
    known: tuple[IPNetwork, ...] = ()  # every LAN and network range of the scenario


@dataclass(frozen=True, slots=True)
class _Source:
    node: str
    via: str | None = None
    address: IPAddress | None = None


@dataclass(frozen=True, slots=True)
class _Pair:
    source: _Source
    target: Target | None  # None: a dns probe with no expected answer


def _literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _Expander:
    def __init__(self, nodes: Mapping[str, NodeInfo], ctx: Context,
                 addressing: Addressing) -> None:
        self.nodes = nodes
        self.ctx = ctx
        self.addressing = addressing
        self.ids: dict[str, int] = {}
        self.out: list[Expectation] = []
        self.warned: set[tuple[int, str, IPAddress]] = set()

    def literal_target(self, text: str) -> Target | None:
        """`db` from `targets:`, or an address; None when `text` is neither."""
        named = self.addressing.targets.get(text)
        if named is not None:
            return Target(node=text, address=named.address)
        address = _literal(text)
        if address is not None:
            return Target(node=str(address), address=address)
        return None

    def node(self, text: str, path: Path, *, as_target: bool,
             pin: bool = True) -> Target | None:
        """`pin`: a `node@network` is allowed (targets, and the sources of the pair form)."""
        name, at, via = text.partition("@")
        if name not in self.nodes:
            named = self.addressing.targets.get(name)
            if at and named is not None:
                self.ctx.error(path, f"'{text}': target '{name}' is one address "
                                     f"({named.address}), it has no networks to pick from",
                               f"Write '{name}'")
                return None
            literal = self.literal_target(text)
            if literal is None:
                choices = [*self.nodes, *self.addressing.targets]
                self.ctx.error(path, f"unknown node '{name}'",
                               hint_for(name, choices, "endpoints, machines, hosts, router "
                                                       "and targets, or an IP address"))
                return None
            if not as_target:
                self.ctx.error(path, f"'{text}' is an address outside the scenario's nodes: "
                                     "it can only be a probe target",
                               f"Probe it from a node: from: <node>, to: {text}")
                return None
            return literal
        if not as_target and self.nodes[name].kind is NodeKind.SERVICE:
            self.ctx.error(path, f"service '{name}' can only be a probe target",
                           "Probe it from an endpoint: from: <endpoint>, to: " + name)
            return None
        if not at:
            return Target(node=name)
        if not pin:
            self.ctx.error(path, f"'{text}': a group member cannot be pinned with @network",
                           f"Pin the source in a pair: from: {text}, to: [...]")
            return None
        vias = self.nodes[name].vias
        # `node@ipv6`/`node@ipv4` pins a target's address family (netcheck.engine.plan_tasks).
        # An adopted container's networks are known only at run time (any_via).
        families = ("ipv4", "ipv6") if as_target else ()
        if via not in vias and via not in families and not self.nodes[name].any_via:
            self.ctx.error(path, f"'{name}' is not on '{via}'",
                           f"{name} is on {one_of(vias)}" if vias else None)
            return None
        return Target(node=name, via=via)

    def nodes_of(self, items: Sequence[str], path: Path, *, as_target: bool,
                 pin: bool = True) -> list[Target]:
        out: list[Target] = []
        for index, text in enumerate(items):
            item_path = (*path, index) if (*path, index) in self.ctx.lines else path
            found = self.node(text, item_path, as_target=as_target, pin=pin)
            if found is not None:
                out.append(found)
        return out

    def emit(self, index: int, spec: AnyExpectation, probe: ProbeSpec, pair: _Pair,
             reachable: bool, server: Target | None = None) -> None:
        path: Path = ("expectations", index)
        target = pair.target
        src = pair.source
        dns_server: str | None = None
        dns_address: IPAddress | None = None
        label = f"{src.node}@{src.via or src.address}" if src.via or src.address else src.node
        if kind_for(probe.kind).asks_server:
            # `server` is where the query goes (default: the source's own resolver); `to`,
            # when given, is the node whose address the answer must hold.
            if server is not None:
                dns_server, dns_address = server.node, server.address
            exp_id = f"{probe}:{label}->{target}" if target else f"{probe}:{label}"
            target = target or Target(node=src.node)
        else:
            assert target is not None
            exp_id = f"{probe}:{label}->{target}"
        line = self.ctx.line(path)
        if exp_id in self.ids:
            self.ctx.error(path, f"check '{exp_id}' is already defined by the expectation at "
                                 f"line {self.ids[exp_id]}", "Remove one of them")
            return
        self.ids[exp_id] = line
        if target.address is not None:
            self.check_literal(index, probe, src, target, target.address)
        if dns_address is not None and server is not None:
            self.check_literal(index, probe, src, server, dns_address)
        self.out.append(Expectation(
            id=exp_id, source=src.node, target=target, probe=probe, reachable=reachable,
            reason=spec.reason, dns_server=dns_server, description=spec.description,
            location=self.ctx.location(path), source_via=src.via, source_address=src.address,
            dns_server_address=dns_address,
        ))

    def check_literal(self, index: int, probe: ProbeSpec, src: _Source, target: Target,
                      address: IPAddress) -> None:
        """An address no network of the source is on and no route leads to is most likely a
        typo: say so (a warning, as a real network may route it where the scenario does not
        say). ARP (a link-layer kind) asks only on-link, so there it is an error."""
        facts = self.addressing.facts.get(src.node)
        if facts is None:
            return
        path: Path = ("expectations", index, "to")
        path = path if path in self.ctx.lines else ("expectations", index)
        via = src.via
        what = str(address) if target.node == str(address) else f"{address} ({target})"
        if kind_for(probe.kind).link_layer and not facts.unknown_subnets \
                and not facts.on_link(address, via):
            self.ctx.error(path, f"{probe.kind} asks only on-link addresses: {what} is on "
                                 f"no network {src.node} is on",
                           "Use icmp, or a target on one of the source's networks")
            return
        key = (index, src.node, address)
        if key in self.warned or reaches(facts, address, self.addressing.known, via):
            return
        self.warned.add(key)
        nets = ", ".join(f"{name} {net}" for name, net in facts.subnets) or "no network"
        self.ctx.warn(path, f"{what} is outside every network {src.node} is on "
                            f"({nets}) and no route of {src.node} covers it",
                      "Check the address, or declare the route (routes: on the node)")

    def sources_of(self, spec: PairExpectation, path: Path) -> list[_Source]:
        found = self.nodes_of(spec.from_, (*path, "from"), as_target=False)
        sources = [_Source(t.node, t.via) for t in found]
        if spec.source is None:
            return sources
        src_path: Path = (*path, "source")
        names = list(dict.fromkeys(s.node for s in sources))
        if len(names) != 1 or len(spec.from_) != 1:
            self.ctx.error(src_path, "source pins the address of one node, and from lists "
                                     f"{len(spec.from_)}",
                           "Write one expectation per source node")
            return []
        if sources[0].via is not None:
            self.ctx.error(src_path, f"source and from: {spec.from_[0]} both pin the source "
                                     "address", "Keep only one of them")
            return []
        node = names[0]
        facts = self.addressing.facts.get(node)
        if facts is not None and not facts.has_address(spec.source):
            # An IPAM address is known only once the runtime hands it out: run time checks it.
            maybe = facts.dynamic and (facts.unknown_subnets or facts.on_link(spec.source))
            if not maybe:
                have = [str(a) for _, a in facts.addresses]
                self.ctx.error(src_path, f"{spec.source} is not an address of {node}",
                               f"{node} has {one_of(have)}" if have else None)
                return []
        return [_Source(node, address=spec.source)]

    def pair_form(self, index: int, spec: PairExpectation) -> int:
        path: Path = ("expectations", index)
        sources = self.sources_of(spec, path)
        targets = (self.nodes_of(spec.to, (*path, "to"), as_target=True)
                   if spec.to is not None else None)
        dns = [p for p in spec.probe if kind_for(p.kind).asks_server]
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
                    if dst is not None and not dst.literal and dst.node == src.node:
                        continue
                    if server is not None and not server.literal and server.node == src.node:
                        continue
                    self.emit(index, spec, probe, _Pair(src, dst), spec.reachable, server)
                    count += 1
        return count

    def mesh_form(self, index: int, spec: MeshExpectation) -> int:
        path: Path = ("expectations", index, "mesh")
        members = self.nodes_of(spec.mesh, path, as_target=False, pin=False)
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
                        self.emit(index, spec, probe, _Pair(_Source(src), Target(node=dst)),
                                  spec.reachable)
                        count += 1
        return count

    def isolated_form(self, index: int, spec: IsolatedExpectation) -> int:
        path: Path = ("expectations", index, "isolated")
        groups: list[list[str]] = []
        where: dict[str, int] = {}
        for g_index, group in enumerate(spec.isolated):
            g_path = (*path, g_index) if (*path, g_index) in self.ctx.lines else path
            members = self.nodes_of(group, g_path, as_target=False, pin=False)
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
                            self.emit(index, spec, probe,
                                      _Pair(_Source(src), Target(node=dst)), False)
                            count += 1
        return count


def expand_expectations(
    specs: Sequence[AnyExpectation], nodes: Mapping[str, NodeInfo], ctx: Context,
    addressing: Addressing | None = None,
) -> list[Expectation]:
    expander = _Expander(nodes, ctx, addressing or Addressing())
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
