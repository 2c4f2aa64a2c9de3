"""Compare two runs: what broke, what opened, which findings changed, what changed on the host.

Verdicts are matched by expectation id, then (for ids that exist on one side only, say after
a scenario was edited) by path: (source, target, probe). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from netcheck.baseline.snapshot import ROOT, HostSnapshot, NetnsSnapshot
from netcheck.model.results import Observation, Outcome, RunRecord, Verdict

# Observations that mean the target's stack was reached (a RST is an answer from the host).
_REACHED = frozenset(
    {Observation.ANSWERED, Observation.REFUSED, Observation.CONFLICT, Observation.DNS_ERROR}
)
_ID = re.compile(r"^(?P<probe>[^:]+):(?P<source>.+?)->(?P<target>.+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PathChange:
    """One path whose outcome or reachability changed between the runs."""

    expectation_id: str  # the current run's id (the baseline's when the path disappeared)
    path: str  # "icmp c1 -> nas"
    before: str  # "pass: silent" (outcome: observation)
    after: str
    expected_reachable: bool | None  # what the current scenario expects; None: no expectation
    findings: tuple[str, ...] = ()  # the current run's finding ids on this path
    message: str = ""  # the current verdict's message

    @property
    def expected_open(self) -> bool:
        return self.expected_reachable is True


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingChange:
    expectation_id: str
    added: tuple[str, ...]  # "rp-filter: nas drops replies ..."
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostChange:
    """One difference between two host snapshots, said the way an operator would."""

    namespace: str  # ROOT or a lab node name
    kind: str  # sysctl | link | address | route | rule | docker-network
    name: str  # the sysctl key, link name, route line...
    before: str | None
    after: str | None
    text: str  # "rp_filter on trunk0.136 went 2 -> 1"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDiff:
    baseline_run: str
    current_run: str
    scenario: str
    newly_broken: tuple[PathChange, ...] = ()  # was pass, is now fail/error
    newly_opened: tuple[PathChange, ...] = ()  # was not reached, is now reached
    fixed: tuple[PathChange, ...] = ()  # was fail/error, now pass, and not a new opening
    findings: tuple[FindingChange, ...] = ()
    only_in_baseline: tuple[str, ...] = ()  # ids not tested in the current run
    only_in_current: tuple[str, ...] = ()
    host_changes: tuple[HostChange, ...] = field(default_factory=tuple)

    @property
    def regressions(self) -> tuple[PathChange, ...]:
        """Newly broken paths, and paths that opened without the scenario expecting them to."""
        return self.newly_broken + tuple(p for p in self.newly_opened if not p.expected_open)

    @property
    def has_regressions(self) -> bool:
        return bool(self.regressions)

    @property
    def empty(self) -> bool:
        return not (
            self.newly_broken
            or self.newly_opened
            or self.fixed
            or self.findings
            or self.host_changes
            or self.only_in_baseline
            or self.only_in_current
        )


# --- paths ------------------------------------------------------------------------------------


def path_key(v: Verdict) -> tuple[str, str, str]:
    """(source, target, probe) of a verdict: from its probe result, else from its id."""
    if v.result is not None:
        return (v.result.source, v.result.target, str(v.result.probe))
    m = _ID.match(v.expectation_id)
    if m is None:
        return ("", "", v.expectation_id)
    return (m["source"], m["target"], m["probe"])


def path_text(key: tuple[str, str, str]) -> str:
    source, target, probe = key
    return f"{probe} {source} -> {target}" if source else probe


def _reached(v: Verdict) -> bool | None:
    """Did the probe reach the target? None: not known (not probed, or could not send)."""
    if v.result is None or v.result.observation is Observation.ERROR:
        return None
    return v.result.observation in _REACHED


def _state(v: Verdict) -> str:
    obs = v.result.observation.value if v.result is not None else v.observed
    return f"{v.outcome.value}: {obs}"


def expects_reachable(v: Verdict) -> bool:
    return v.expected.strip().lower().startswith("reachable")


def _finding_texts(v: Verdict) -> dict[str, str]:
    return {f.id: f"{f.id}: {f.summary}" for f in v.findings}


def _pair(
    base: Iterable[Verdict], cur: Iterable[Verdict]
) -> tuple[list[tuple[Verdict, Verdict]], list[Verdict], list[Verdict]]:
    base_by_id = {v.expectation_id: v for v in base}
    cur_by_id = {v.expectation_id: v for v in cur}
    pairs = [(base_by_id[i], cur_by_id[i]) for i in cur_by_id if i in base_by_id]
    rest_base = {path_key(v): v for i, v in base_by_id.items() if i not in cur_by_id}
    only_cur: list[Verdict] = []
    for i, v in cur_by_id.items():
        if i in base_by_id:
            continue
        match = rest_base.pop(path_key(v), None)
        if match is None:
            only_cur.append(v)
        else:
            pairs.append((match, v))
    return pairs, list(rest_base.values()), only_cur


def diff_records(
    baseline: RunRecord,
    current: RunRecord,
    baseline_snapshot: HostSnapshot | None = None,
    current_snapshot: HostSnapshot | None = None,
) -> RunDiff:
    pairs, only_base, only_cur = _pair(baseline.verdicts, current.verdicts)
    broken: list[PathChange] = []
    opened: list[PathChange] = []
    fixed: list[PathChange] = []
    finding_changes: list[FindingChange] = []
    for before, after in pairs:
        change = PathChange(
            expectation_id=after.expectation_id,
            path=path_text(path_key(after)),
            before=_state(before),
            after=_state(after),
            expected_reachable=expects_reachable(after),
            findings=tuple(f.id for f in after.findings),
            message=after.message,
        )
        if _reached(before) is False and _reached(after) is True:
            opened.append(change)
        elif before.outcome is Outcome.PASS and after.outcome in (Outcome.FAIL, Outcome.ERROR):
            broken.append(change)
        elif before.outcome in (Outcome.FAIL, Outcome.ERROR) and after.outcome is Outcome.PASS:
            fixed.append(change)
        fb, fa = _finding_texts(before), _finding_texts(after)
        added = tuple(text for fid, text in fa.items() if fid not in fb)
        removed = tuple(text for fid, text in fb.items() if fid not in fa)
        if added or removed:
            finding_changes.append(
                FindingChange(expectation_id=after.expectation_id, added=added, removed=removed)
            )
    host: tuple[HostChange, ...] = ()
    if baseline_snapshot is not None and current_snapshot is not None:
        host = diff_snapshots(baseline_snapshot, current_snapshot)
    return RunDiff(
        baseline_run=baseline.run_id,
        current_run=current.run_id,
        scenario=current.scenario,
        newly_broken=tuple(broken),
        newly_opened=tuple(opened),
        fixed=tuple(fixed),
        findings=tuple(finding_changes),
        only_in_baseline=tuple(v.expectation_id for v in only_base),
        only_in_current=tuple(v.expectation_id for v in only_cur),
        host_changes=host,
    )


# --- host snapshots ---------------------------------------------------------------------------


def _normalise(text: str, run_id: str | None) -> str:
    """Names carry the run id (nc-<runid>-c1); two runs' objects compare by what remains."""
    return text.replace(run_id, "<run>") if run_id else text


def _where(namespace: str) -> str:
    return "" if namespace == ROOT else f"{namespace}: "


def _sysctl_text(ns: str, key: str, before: str | None, after: str | None) -> str:
    parts = key.split(".")
    # net.ipv4.conf.<if>.<name>: the interface name may itself hold dots (trunk0.136).
    if len(parts) >= 5 and parts[:3] == ["net", "ipv4", "conf"]:
        what = f"{parts[-1]} on {'.'.join(parts[3:-1])}"
    else:
        what = key.rsplit(".", 1)[-1] if key == "net.ipv4.ip_forward" else key
    return f"{_where(ns)}{what} went {before or 'unset'} -> {after or 'unset'}"


def _map_changes(
    ns: str, kind: str, before: Mapping[str, str], after: Mapping[str, str]
) -> list[HostChange]:
    out = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if kind == "sysctl":
            text = _sysctl_text(ns, key, b, a)
        elif b is None:
            text = f"{_where(ns)}{kind} {key} appeared ({a})"
        elif a is None:
            text = f"{_where(ns)}{kind} {key} is gone (was {b})"
        else:
            text = f"{_where(ns)}{kind} {key} changed: {b} -> {a}"
        out.append(HostChange(namespace=ns, kind=kind, name=key, before=b, after=a, text=text))
    return out


def _set_changes(
    ns: str, kind: str, before: Iterable[str], after: Iterable[str]
) -> list[HostChange]:
    b, a = set(before), set(after)
    out = [
        HostChange(
            namespace=ns,
            kind=kind,
            name=line,
            before=line,
            after=None,
            text=f"{_where(ns)}{kind} removed: {line}",
        )
        for line in sorted(b - a)
    ]
    out += [
        HostChange(
            namespace=ns,
            kind=kind,
            name=line,
            before=None,
            after=line,
            text=f"{_where(ns)}{kind} added: {line}",
        )
        for line in sorted(a - b)
    ]
    return out


def _conf_ifname(key: str) -> str | None:
    parts = key.split(".")
    if len(parts) >= 5 and parts[:3] == ["net", "ipv4", "conf"]:
        return ".".join(parts[3:-1])
    return None


def _stable_addresses(addresses: Iterable[str]) -> str:
    # IPv6 link-local addresses follow the (random) MAC of each new veth: noise, not change.
    return " ".join(a for a in addresses if not a.lower().startswith("fe80:"))


def _link_local_route(line: str) -> bool:
    """The kernel's own fe80::/64 route of each IPv6 link: it comes and goes with the link's
    state (and its address), which the link's own change already names."""
    return line.startswith("inet6 fe80::/64 ")


def _sysctl_changes(
    ns: str, before: Mapping[str, str], after: Mapping[str, str]
) -> list[HostChange]:
    changes = _map_changes(ns, "sysctl", before, after)
    fwd = next((c for c in changes if c.name == "net.ipv4.ip_forward"), None)
    if fwd is None:
        return changes
    # Writing ip_forward writes every interface's conf/*/forwarding: one change, said once.
    return [
        c
        for c in changes
        if not (
            c.name.startswith("net.ipv4.conf.")
            and c.name.endswith(".forwarding")
            and (c.before, c.after) == (fwd.before, fwd.after)
        )
    ]


def _link_text(attrs: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(attrs.items()))


def _attr_changes(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    """Only what differs, attribute by attribute: `dstport 4789 -> 8472, vni 42 -> 43`."""
    return ", ".join(
        f"{key} {before.get(key, 'unset')} -> {after.get(key, 'unset')}"
        for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)
    )


def _object_changes(
    ns: str, kind: str, before: Mapping[str, Mapping[str, str]],
    after: Mapping[str, Mapping[str, str]],
) -> list[HostChange]:
    """Links or Docker networks by name: one that came or went is said with all its
    attributes, a changed one with the attributes that changed."""
    out = _map_changes(ns, kind, {k: _link_text(v) for k, v in before.items()},
                       {k: _link_text(v) for k, v in after.items()})
    return [
        replace(c, text=f"{_where(ns)}{kind} {c.name} changed: "
                + _attr_changes(before[c.name], after[c.name]))
        if c.before is not None and c.after is not None else c
        for c in out
    ]


def _netns_changes(
    ns: str, b: NetnsSnapshot, a: NetnsSnapshot, b_run: str | None, a_run: str | None
) -> list[HostChange]:
    def norm_map(m: Mapping[str, str], run: str | None) -> dict[str, str]:
        return {_normalise(k, run): _normalise(v, run) for k, v in m.items()}

    links_b = {_normalise(k, b_run): norm_map(v, b_run) for k, v in b.links.items()}
    links_a = {_normalise(k, a_run): norm_map(v, a_run) for k, v in a.links.items()}
    # An interface with only a link-local address has nothing to compare: a port that went
    # down lost its fe80:: with it, and the link's own change says so.
    addrs_b = {_normalise(k, b_run): t for k, v in b.addresses.items()
               if (t := _stable_addresses(v))}
    addrs_a = {_normalise(k, a_run): t for k, v in a.addresses.items()
               if (t := _stable_addresses(v))}
    links = _object_changes(ns, "link", links_b, links_a)
    # A link that came or went takes its conf/<if>/* sysctls with it: say it once, as a link.
    moved = {c.name for c in links if c.before is None or c.after is None}
    out = [
        c
        for c in _sysctl_changes(ns, norm_map(b.sysctls, b_run), norm_map(a.sysctls, a_run))
        if _conf_ifname(c.name) not in moved
    ]
    out += links
    for change in _map_changes(ns, "address", addrs_b, addrs_a):
        if change.before is not None and change.after is not None:
            b_set, a_set = set(change.before.split()), set(change.after.split())
            words = [f"added {x}" for x in sorted(a_set - b_set)]
            words += [f"removed {x}" for x in sorted(b_set - a_set)]
            change = replace(change, text=f"{_where(ns)}address on {change.name} changed: "
                             + "; ".join(words))
        out.append(change)
    out += _set_changes(
        ns,
        "route",
        (_normalise(r, b_run) for r in b.routes if not _link_local_route(r)),
        (_normalise(r, a_run) for r in a.routes if not _link_local_route(r)),
    )
    out += _set_changes(
        ns, "rule", (_normalise(r, b_run) for r in b.rules), (_normalise(r, a_run) for r in a.rules)
    )
    out += _set_changes(
        ns,
        "neighbour",
        (_normalise(n, b_run) for n in b.neighbours),
        (_normalise(n, a_run) for n in a.neighbours),
    )
    return out


def diff_snapshots(before: HostSnapshot, after: HostSnapshot) -> tuple[HostChange, ...]:
    """What changed, sysctls first (the usual culprits), then links, addresses, routes, rules."""
    out: list[HostChange] = []
    for ns in sorted(set(before.namespaces) | set(after.namespaces), key=lambda n: (n != ROOT, n)):
        b, a = before.namespaces.get(ns), after.namespaces.get(ns)
        if b is None or a is None:
            state = "appeared" if b is None else "is gone"
            out.append(
                HostChange(
                    namespace=ns,
                    kind="namespace",
                    name=ns,
                    before=None,
                    after=None,
                    text=f"namespace {ns} {state}",
                )
            )
            continue
        out += _netns_changes(ns, b, a, before.run_id, after.run_id)
    if before.docker_networks is not None and after.docker_networks is not None:
        nets_b = {_normalise(k, before.run_id): v for k, v in before.docker_networks.items()}
        nets_a = {_normalise(k, after.run_id): v for k, v in after.docker_networks.items()}
        out += _object_changes(ROOT, "docker-network", nets_b, nets_a)
    order = {"sysctl": 0, "namespace": 1, "link": 2, "address": 3, "route": 4, "rule": 5}
    out.sort(key=lambda c: order.get(c.kind, 9))
    return tuple(out)


# --- text -------------------------------------------------------------------------------------


def diff_lines(diff: RunDiff) -> list[str]:
    """The diff as plain lines, for the console and for the JUnit/JSON carriers."""
    lines: list[str] = []
    for p in diff.newly_broken:
        lines.append(f"newly broken: {p.expectation_id} ({p.before} -> {p.after})")
    for p in diff.newly_opened:
        note = "" if p.expected_open else " [not expected to open]"
        lines.append(f"newly opened: {p.expectation_id} ({p.before} -> {p.after}){note}")
    for p in diff.fixed:
        lines.append(f"fixed: {p.expectation_id} ({p.before} -> {p.after})")
    for f in diff.findings:
        lines += [f"finding added on {f.expectation_id}: {t}" for t in f.added]
        lines += [f"finding gone on {f.expectation_id}: {t}" for t in f.removed]
    lines += [f"not tested any more: {i}" for i in diff.only_in_baseline]
    lines += [f"new expectation: {i}" for i in diff.only_in_current]
    lines += [f"network state: {c.text}" for c in diff.host_changes]
    return lines
