"""The draft scenario as YAML text, stable to the byte.

PyYAML cannot write comments, and every generated expectation needs one, so this is a small
emitter for the one restricted shape discover writes (flow mappings of names and addresses,
block expectations). Scalars are quoted exactly when PyYAML would read them as something
other than the same string; the text is loaded back through the scenario loader before it
is written (netcheck.discover.run).

Stable: sorted names, defaults left out, no ids, MACs or dynamic addresses, no time stamps.
A promise that fails now stays written (the run fails on it until the user decides); the
fault as observed is written commented out under it, with the finding that explains it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from netcheck.discover.derive import Check, Derived, Draft, Form


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """How one check fails now (from its verdict): written as comments, never as spec."""

    check_id: str
    outcome: str  # fail | error
    observed: str  # the observation: "silent: no reply", "answered: ..."
    finding: str | None = None  # the first finding's id, the reason it fails
    explanation: tuple[str, ...] = ()  # finding summaries and fixes


def scalar(value: str) -> str:
    """`value` as a YAML scalar that loads back as this very string."""
    if value and value.strip() == value and "#" not in value and ": " not in value:
        try:
            if yaml.safe_load(value) == value and not value.startswith(("*", "&", "!", "?")):
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def _flow_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(scalar(i) for i in items) + "]"


def _one_or_list(items: Sequence[str]) -> str:
    return scalar(items[0]) if len(items) == 1 else _flow_list(items)


def _flow_map(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"


_WIDTH = 99


def _comment(text: str, indent: str = "", prefix: str = "# ") -> list[str]:
    """Comment lines, wrapped to the project's line length (long words are never split)."""
    out: list[str] = []
    for line in text.splitlines() or [""]:
        lead = indent + prefix
        wrapped = textwrap.wrap(line, width=max(_WIDTH - len(lead), 40), break_long_words=False,
                                break_on_hyphens=False, subsequent_indent="  ")
        out += [f"{lead}{w}".rstrip() for w in wrapped or [""]]
    return out


def expectation_lines(d: Derived, indent: str = "  ") -> list[str]:
    """One `- ...` entry, block style."""
    first: str
    rest: list[str]
    if d.form is Form.MESH:
        first = f"mesh: {_flow_list(d.sources)}"
        rest = []
    elif d.form is Form.ISOLATED:
        first = "isolated: [" + ", ".join(_flow_list([s]) for s in d.sources) + "]"
        rest = []
    else:
        first = f"from: {_one_or_list(d.sources)}"
        rest = [f"to: {_one_or_list(d.targets)}"]
    rest.append(f"probe: {_one_or_list(d.probes)}")
    if not d.reachable and d.form is not Form.ISOLATED:
        rest.append("reachable: false")
    if d.reason:
        rest.append(f"reason: {scalar(d.reason)}")
    return [f"{indent}- {first}", *(f"{indent}  {line}" for line in rest)]


def _as_observed(d: Derived, check: Check, failure: Failure) -> str:
    """The failing check as it is now, in the pair form (written only commented out)."""
    pairs = [("from", scalar(check.source)), ("to", scalar(check.target)),
             ("probe", scalar(check.probe))]
    if d.reachable:  # a promised path that is broken now
        pairs.append(("reachable", "false"))
        if failure.finding:
            pairs.append(("reason", scalar(failure.finding)))
    return "- " + _flow_map(pairs)


def _failure_lines(d: Derived, failures: Sequence[tuple[Check, Failure]]) -> list[str]:
    out: list[str] = []
    for check, f in failures:
        if f.outcome == "error":
            out += _comment(f"COULD NOT TEST NOW {check.id}: {f.observed}", "  ")
        else:
            out += _comment(f"FAILS NOW {check.id}: {f.observed}", "  ")
        out += _comment("\n".join(f.explanation), "  ", "#   ") if f.explanation else []
        if f.outcome != "error":
            how = ("replace the entry above with this" if len(d.checks()) == 1 else
                   "take this check out of the entry above and uncomment this")
            out += _comment(f"as it is now (to accept it, {how}):", "  ")
            out += _comment(_as_observed(d, check, f), "  ")
    return out


def render(
    draft: Draft,
    *,
    name: str = "discovered",
    failures: Mapping[str, Failure] | None = None,
    probed: bool = True,
) -> str:
    """The scenario text. `failures` are the checks that fail now, by id."""
    failures = failures or {}
    lines: list[str] = []
    src = ", ".join(f"{h.url} (Docker {h.engine})" for h in draft.hosts)
    lines += _comment(f"Written by `netcheck discover` from {src}.")
    lines += _comment("Every expectation says what it was derived from: what Docker promises on "
                      "this host, and what it isolates by design.")
    if not probed:
        lines += _comment("NOT PROBED (--no-probe): nothing here was checked against the host.")
    elif failures:
        lines += _comment(f"{len(failures)} check(s) fail now: see FAILS NOW / COULD NOT TEST "
                          "NOW below; `netcheck run` fails on them until the network is fixed "
                          "or the check is changed.")
    for note in draft.notes:
        lines += _comment(note)
    lines.append(f"name: {scalar(name)}")
    lines.append("runtime: docker")
    if draft.several_hosts:
        lines += ["", "lab:", "  hosts:"]
        for h in sorted(draft.hosts, key=lambda h: h.name):
            lines.append(f"    {scalar(h.name)}: {_flow_map([('docker', scalar(h.url))])}")
    if draft.networks:
        lines += ["", "networks:"]
        for n in draft.networks:
            lines += _comment(n.summary, "  ")
            pairs = [("external", "true")]
            if n.docker_name != n.key:
                pairs.append(("name", scalar(n.docker_name)))
            lines.append(f"  {scalar(n.key)}: {_flow_map(pairs)}")
    if draft.endpoints:
        lines += ["", "endpoints:"]
        for e in draft.endpoints:
            lines += _comment(e.summary, "  ")
            pairs = [("container", scalar(e.container))]
            if e.host is not None:
                pairs.append(("host", scalar(e.host)))
            lines.append(f"  {scalar(e.key)}: {_flow_map(pairs)}")
    if draft.targets:
        lines += ["", "targets:"]
        for t in draft.targets:
            lines += _comment(t.why, "  ")
            lines.append(f"  {scalar(t.name)}: {_flow_map([('address', scalar(str(t.address)))])}")
    lines += ["", "expectations:" if draft.expectations else "expectations: []"]
    for d in draft.expectations:
        lines += _comment(d.why, "  ")
        lines += expectation_lines(d)
        failing = [(c, failures[c.id]) for c in d.checks() if c.id in failures]
        lines += _failure_lines(d, failing)
    return "\n".join(lines) + "\n"
