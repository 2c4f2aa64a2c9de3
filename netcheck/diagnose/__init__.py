"""Explain probes that did not reach: rules read evidence and live state into findings.

Each rule sits in its own module under `rules/` behind the `Rule` protocol and is
registered here by its id (the word a scenario's `reason:` names).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace

from netcheck.diagnose.base import Case, Explained, Rule, Strength, register, registered
from netcheck.diagnose.live import LiveState, ReprobeFn
from netcheck.diagnose.path import MAX_RESENDS, walk
from netcheck.diagnose.rules import RULES
from netcheck.diagnose.rules.kernel_feature import explain_skip
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.plan import Expectation, Plan
from netcheck.model.results import (
    Finding,
    HopState,
    Observation,
    PacketPath,
    ProbeResult,
    Topology,
)
from netcheck.model.sites import SiteNotLocal

log = logging.getLogger(__name__)

for _rule in RULES:
    register(_rule.id, _rule)

# What diagnose() reads live state through: LiveState itself, or (netcheck.diagnose.
# recorded) one that keeps every answer so a fault's state can be replayed in unit tests.
LiveFactory = Callable[..., LiveState]
live_factory: ContextVar[LiveFactory] = ContextVar("live_factory", default=LiveState)

__all__ = [
    "Case",
    "Diagnosis",
    "Explained",
    "LiveState",
    "ProbeWindow",
    "Strength",
    "contradicted",
    "diagnose",
    "diagnose_all",
    "explain_skip",
    "live_factory",
    "passed_through",
    "registered",
    "unobserved_arrival",
]


def contradicted(
    explained: Explained, results: Sequence[tuple[Expectation, ProbeResult]]
) -> list[str]:
    """The probes of this run that contradict what the finding says is reachable."""
    out: list[str] = []
    for src, dst in explained.reaches:
        for exp, result in results:
            # A pinned probe left with another source address than the path the finding
            # speaks of: its silence says nothing about that path.
            pinned = exp.source_via is not None or exp.source_address is not None
            if (exp.source == src and exp.target.node == dst and not pinned
                    and result.observation is not Observation.ANSWERED):
                out.append(f"{exp.id}: {result.observation.value}")
    return out


def unobserved_arrival(explained: Explained, path: PacketPath | None) -> list[str]:
    """The nodes the finding says the request arrives at where the path walk did not
    observe it (arriving is a claim about a packet: only an observation backs it)."""
    out: list[str] = []
    for node in explained.arrives:
        hop = None if path is None else next(
            (h for h in path.hops if h.node == node and h.direction == "request"), None)
        if hop is None or hop.state not in (HopState.SEEN, HopState.DROPPED):
            out.append(f"{node}: {'no path walked' if hop is None else hop.state.value}")
    return out


def passed_through(explained: Explained, path: PacketPath | None) -> str | None:
    """The walk saw the packet get past the node the finding says drops it: seen there
    and seen (or dropped) further on in the same direction, every time it crossed it."""
    if path is None or explained.at is None:
        return None
    hops = list(path.hops)
    at = [i for i, h in enumerate(hops) if h.node == explained.at]
    if not at:
        return None
    for i in at:
        if hops[i].state is not HopState.SEEN:
            return None
        if not any(h.direction == hops[i].direction
                   and h.state in (HopState.SEEN, HopState.DROPPED) for h in hops[i + 1:]):
            return None
    later = next(h for h in hops[at[-1] + 1:] if h.state in (HopState.SEEN, HopState.DROPPED))
    return f"{explained.at} passed it on: {later.node} {later.state.value}"


def _confirmed(explained: Explained, path: PacketPath | None) -> Finding:
    hop = None if path is None else path.dropped_at
    if hop is None or explained.at is None or hop.node != explained.at:
        return explained.finding
    how = f" ({hop.reason})" if hop.reason else ""
    return replace(explained.finding, confirmed_by=f"the drop at {hop.node}{how}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """What the diagnosis says about one probe: findings (strongest first) and, for a
    silent or refused probe, where its packet died."""

    findings: tuple[Finding, ...] = ()
    path: PacketPath | None = None


def diagnose(
    plan: Plan,
    topology: Topology,
    pairs: Sequence[tuple[Expectation, ProbeResult]],
    *,
    window: ProbeWindow | None = None,
    timeout: float = 1.0,
    reprobe: ReprobeFn | None = None,
) -> Mapping[str, tuple[Finding, ...]]:
    """Findings per expectation id (see diagnose_all)."""
    got = diagnose_all(plan, topology, pairs, window=window, timeout=timeout, reprobe=reprobe)
    return {k: d.findings for k, d in got.items()}


def diagnose_all(
    plan: Plan,
    topology: Topology,
    pairs: Sequence[tuple[Expectation, ProbeResult]],
    *,
    window: ProbeWindow | None = None,
    timeout: float = 1.0,
    reprobe: ReprobeFn | None = None,
) -> Mapping[str, Diagnosis]:
    """Findings per expectation id, for every probe that did not get a real answer,
    strongest evidence first; a finding the run's own probes contradict is left out.
    Silent and refused probes also get their packet's path, as observed."""
    live = live_factory.get()(window, timeout=timeout, reprobe=reprobe)
    try:
        return _diagnose_with(live, plan, topology, pairs)
    finally:
        live.close()


# Expected silences without a `reason:` diagnosed per run (see _budget), and how many of
# them are re-sent for the path walk (each re-send waits ~0.6 s; a user acts on the others).
MAX_EXPECTED_SILENCES = 250
MAX_RESENDS_EXPECTED = 4


def _diagnose_with(live: LiveState, plan: Plan, topology: Topology,
                   pairs: Sequence[tuple[Expectation, ProbeResult]]) -> dict[str, Diagnosis]:
    rules = [factory() for factory in registered().values()]
    cases: list[tuple[Case, list[Explained]]] = []
    # Every rule reads the state the run's probes left first; only then are probes sent
    # again for the walk (a re-sent probe turns an INCOMPLETE neighbour FAILED, say).
    silent = [(exp, result) for exp, result in pairs
              if result.observation is not Observation.ANSWERED]
    chosen, skipped = _budget(silent)
    for exp, result in chosen:
        case = Case(expectation=exp, result=result, plan=plan, topology=topology, live=live)
        cases.append((case, _explain(rules, case, pairs)))
    out: dict[str, Diagnosis] = {}
    if skipped:
        note = (f"not diagnosed: this run diagnosed {MAX_EXPECTED_SILENCES} of its "
                f"{MAX_EXPECTED_SILENCES + len(skipped)} expected silences (every target has "
                "some), and every unexpected one; this probe got no answer, as expected")
        for exp, _ in skipped:
            out[exp.id] = Diagnosis(findings=(), path=PacketPath(hops=(), note=note))
    # Re-sends are few (MAX_RESENDS), so they go to the probes a user must act on first:
    # a silent probe that was expected to answer, or one whose expected reason must be
    # confirmed, before the expected silences of a big mesh.
    walk_order = sorted(range(len(cases)), key=lambda i: _resend_rank(cases[i][0].expectation))
    paths: dict[int, PacketPath | None] = {}
    resends = expected = 0
    for i in walk_order:
        plain = _resend_rank(cases[i][0].expectation) == 2
        may = resends < MAX_RESENDS and not (plain and expected >= MAX_RESENDS_EXPECTED)
        path = _walk(cases[i][0], resend=may)
        resends += path is not None
        expected += plain and path is not None
        paths[i] = path
    for i, (case, explained_all) in enumerate(cases):
        exp = case.expectation
        path = paths[i]
        found: list[Explained] = []
        for explained in explained_all:
            unseen = unobserved_arrival(explained, path)
            if unseen:
                log.warning("finding %s on %s left out: it says the request arrives, the "
                            "path walk did not observe it there (%s)",
                            explained.finding.id, exp.id, "; ".join(unseen))
                continue
            beyond = passed_through(explained, path)
            if beyond:
                log.warning("finding %s on %s left out: it places the drop at %s, the path "
                            "walk saw the packet get past it (%s)", explained.finding.id,
                            exp.id, explained.at, beyond)
                continue
            found.append(replace(explained, finding=_confirmed(explained, path)))
        found.sort(key=lambda e: -e.strength)  # stable: rule order breaks ties
        out[exp.id] = Diagnosis(findings=tuple(e.finding for e in found), path=path)
    return out


def _explain(rules: Sequence[Rule], case: Case,
             pairs: Sequence[tuple[Expectation, ProbeResult]]) -> list[Explained]:
    """What every rule says about one case, less what the run's probes contradict."""
    exp = case.expectation
    found: list[Explained] = []
    for rule in rules:
        try:
            got = rule.explain(case)
        except SiteNotLocal as exc:
            # A remote container's namespace cannot be read from here: no evidence,
            # so no finding (the verdict stands on the probe alone).
            log.debug("diagnosis rule %s on %s: %s", rule.id, exp.id, exc)
            continue
        except Exception:  # a broken rule must not hide the verdicts of the others
            log.exception("diagnosis rule %s failed on %s", rule.id, exp.id)
            continue
        if got is None:
            continue
        explained = got if isinstance(got, Explained) else Explained(finding=got)
        against = contradicted(explained, pairs)
        if against:
            log.warning("finding %s on %s left out: the run's probes contradict it (%s)",
                        explained.finding.id, exp.id, "; ".join(against))
            continue
        found.append(explained)
    return found


def _budget(silent: list[tuple[Expectation, ProbeResult]]) -> tuple[
        list[tuple[Expectation, ProbeResult]], list[tuple[Expectation, ProbeResult]]]:
    """Which silent probes to diagnose. Every unexpected silence and every one whose
    `reason:` must be confirmed; of the expected silences without a reason (a big mesh's
    dead endpoints: thousands, each costing its rules' netlink reads) at most
    MAX_EXPECTED_SILENCES, taken target by target in turn so each target is explained."""
    must = [p for p in silent if _resend_rank(p[0]) < 2]
    optional = [p for p in silent if _resend_rank(p[0]) == 2]
    if len(optional) <= MAX_EXPECTED_SILENCES:
        return silent, []
    by_target: dict[str, list[tuple[Expectation, ProbeResult]]] = {}
    for p in optional:
        by_target.setdefault(p[0].target.node, []).append(p)
    picked: list[tuple[Expectation, ProbeResult]] = []
    queues = list(by_target.values())
    depth = 0
    while len(picked) < MAX_EXPECTED_SILENCES:
        picked += [q[depth] for q in queues if depth < len(q)][
            : MAX_EXPECTED_SILENCES - len(picked)]
        depth += 1
    chosen_ids = {id(p) for p in picked}
    return must + picked, [p for p in optional if id(p) not in chosen_ids]


def _resend_rank(exp: Expectation) -> int:
    if exp.reachable:
        return 0
    return 1 if exp.reason is not None else 2


def _walk(case: Case, *, resend: bool) -> PacketPath | None:
    try:
        return walk(case, resend=resend)
    except (SiteNotLocal, LookupError) as exc:  # LookupError: a replay that lacks a read
        log.debug("path of %s: %s", case.expectation.id, exc)
    except Exception:  # the path is an explanation; it must not hide the verdict
        log.exception("path walk failed on %s", case.expectation.id)
    return None
