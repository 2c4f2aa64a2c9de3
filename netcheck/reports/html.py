"""The HTML report: one self-contained file (inline CSS, SVG and a small script) that opens
offline. Rendered by jinja2 with autoescape on; everything that comes from the scenario goes
through the template's escaping. A Content-Security-Policy lets only the report's own script
(by hash) run, so even a missed escape could not execute a scenario's `<script>`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

import netcheck
from netcheck.baseline.diff import RunDiff
from netcheck.model.plan import Plan
from netcheck.model.results import Outcome, RunRecord, Verdict
from netcheck.reports import pathstrip
from netcheck.reports.labnotes import node_notes
from netcheck.reports.text import packet_line
from netcheck.reports.topology_svg import TopologyLayout, layout
from netcheck.textfile import write_text_atomic

# Worst first: a cell takes the colour of the worst outcome among its probes.
SEVERITY = (Outcome.FAIL, Outcome.ERROR, Outcome.SKIP, Outcome.PASS)
# Above this many cells (a 60 x 60 mesh) the matrix folds to one summary row per source:
# 250 x 250 cells were tens of MB that no browser lays out, and no one reads.
FOLD_CELLS = 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class Chip:
    """One probe in a matrix cell."""

    index: int  # anchor of its details
    probe: str  # "icmp", "tcp/80", "icmp/df/1400" (+ "@via")
    kind: str  # arp | icmp | tcp | udp | dns: what the filter works on
    outcome: str
    expected: str
    observed: str
    title: str
    target: str = ""  # its column, named in a folded row


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    cells: Mapping[tuple[str, str], tuple[Chip, ...]]
    kinds: tuple[str, ...]

    def cell(self, source: str, target: str) -> tuple[Chip, ...]:
        return self.cells.get((source, target), ())

    def worst(self, source: str, target: str) -> str:
        outcomes = {c.outcome for c in self.cell(source, target)}
        return next((o.value for o in SEVERITY if o.value in outcomes), "none")

    @property
    def folded(self) -> bool:
        return len(self.sources) * len(self.targets) > FOLD_CELLS

    def row(self, source: str) -> tuple[dict[str, int], list[Chip]]:
        """A folded row: probes per outcome, and the chips that did not pass (worst first)."""
        counts = {o.value: 0 for o in SEVERITY}
        problems: list[Chip] = []
        for target in self.targets:
            for chip in self.cell(source, target):
                counts[chip.outcome] += 1
                if chip.outcome != Outcome.PASS.value:
                    problems.append(chip)
        order = {o.value: i for i, o in enumerate(SEVERITY)}
        problems.sort(key=lambda c: order[c.outcome])
        return counts, problems


def _split_id(vid: str) -> tuple[str, str, str]:
    probe, _, rest = vid.partition(":")
    source, _, target = rest.partition("->")
    return probe, source, target


def _endpoints(v: Verdict) -> tuple[str, str, str]:
    """(probe text, source, target) of a verdict. The source is the id's: a pinned one
    (`c1@net`, `c1@10.0.1.5`) is a row of its own, apart from the node's unpinned probes."""
    _, source, _ = _split_id(v.expectation_id)
    if v.result is not None:
        return str(v.result.probe), source or v.result.source, v.result.target
    return _split_id(v.expectation_id)


def build_matrix(verdicts: Sequence[Verdict]) -> Matrix:
    # Dicts as ordered sets: a list's `in` made this quadratic (62,250 verdicts x 250 names).
    sources: dict[str, None] = {}
    targets: dict[str, None] = {}
    cells: dict[tuple[str, str], list[Chip]] = {}
    kinds: dict[str, None] = {}
    for i, v in enumerate(verdicts):
        probe, source, target = _endpoints(v)
        if not source or not target:
            continue  # not a path (e.g. a baseline regression case): listed in details only
        node, _, via = target.partition("@")
        kind = probe.split("/")[0]
        sources[source] = None
        targets[node] = None
        kinds[kind] = None
        observed = v.result.observation.value if v.result is not None else v.outcome.value
        chip = Chip(
            index=i,
            probe=f"{probe}@{via}" if via else probe,
            kind=kind,
            outcome=v.outcome.value,
            expected="reachable" if v.expected.startswith("reachable") else "unreachable",
            observed=observed,
            title=f"{v.expectation_id}: {v.outcome.value.upper()}: {v.message}",
            target=node,
        )
        cell = cells.get((source, node))
        if cell is None:
            cells[(source, node)] = [chip]
        else:
            cell.append(chip)
    return Matrix(
        sources=tuple(sources),
        targets=tuple(targets),
        cells={k: tuple(v) for k, v in cells.items()},
        kinds=tuple(kinds),
    )


def _docker_version(record: RunRecord) -> str | None:
    env = record.environment
    return env.docker.server_version if env is not None and env.docker is not None else None


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("netcheck.reports", "templates"),
        autoescape=True,  # every template, whatever its name: the input is untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["packet_line"] = packet_line
    env.globals["path_strip"] = pathstrip.html_fragment
    return env


def _static(name: str) -> str:
    loader = _environment().loader
    assert loader is not None
    source, _, _ = loader.get_source(_environment(), name)
    return source


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def _lab_notes(
    plan: Plan | None, topo: TopologyLayout
) -> list[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]]:
    """(node, its settings by kind) in the diagram's order, for the settings table."""
    if plan is None:
        return []
    notes = node_notes(plan)
    drawn = [b.name for b in topo.nodes if b.name in notes]
    rest = [name for name in notes if name not in drawn]
    return [(name, notes[name].groups()) for name in drawn + rest]


def render_topology_svg(record: RunRecord, plan: Plan | None = None) -> str:
    """The report's topology diagram alone: one `<svg>` element, well-formed XML."""
    template = _environment().get_template("topology.svg.j2")
    return template.render({"record": record, "topology": layout(record, plan)})


def render(record: RunRecord, plan: Plan | None = None, diff: RunDiff | None = None) -> str:
    """The whole report as one HTML document."""
    script = _static("report.js.j2")
    topo: TopologyLayout = layout(record, plan)
    counts = record.counts()
    matrix = build_matrix(record.verdicts)
    context = {
        "record": record,
        "plan": plan,
        "diff": diff,
        "counts": [
            (o.value, counts[o]) for o in (Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.SKIP)
        ],
        "matrix": matrix,
        # (anchor index, verdict) of each verdict the details list: all of them, or only
        # those that did not pass when the matrix folds (the template no longer walks the
        # 62,250 verdicts of a big mesh to skip its passes).
        "details": [(i, v) for i, v in enumerate(record.verdicts)
                    if not (matrix.folded and v.outcome is Outcome.PASS)],
        "topology": topo,
        "lab_notes": _lab_notes(plan, topo),
        "docker_version": _docker_version(record),
        "kernel": record.environment.kernel if record.environment is not None else None,
        "facts": sorted((k, v) for k, v in record.facts.items() if k != "baseline.diff"),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": netcheck.__version__,
        # Static files of this package, not input: safe to inline as they are.
        "css": Markup(_static("report.css.j2")),  # noqa: S704
        "script": Markup(script),  # noqa: S704
        "csp": _csp(script),
    }
    return _environment().get_template("report.html.j2").render(context)


class HtmlReporter:
    name: str = "html"

    def write(
        self, record: RunRecord, path: Path, *, plan: Plan | None = None,
        diff: RunDiff | None = None,
    ) -> None:
        write_text_atomic(Path(path), render(record, plan, diff))
