"""What every fault run must show about its silent probes: where the packet died, in all
four outputs (console, JSON, JUnit, HTML), consistent with the findings."""

from __future__ import annotations

import io
import json

from rich.console import Console

from netcheck.model.results import HopState, Observation, RunRecord, Verdict
from netcheck.reports import html, junit
from netcheck.reports.console import render_plain
from netcheck.reports.jsonreport import dumps, record_from_dict
from netcheck.reports.pathstrip import strip_text

WALKED = (Observation.SILENT, Observation.REFUSED, Observation.ICMP_ERROR)
# Findings that name the node the packet dies at (Explained.at).
PLACED = ("rp-filter", "no-route", "filtered", "no-forwarding", "docker-internal")


def check_path(v: Verdict) -> None:
    r = v.result
    assert r is not None
    path = v.path
    assert path is not None, f"{v.expectation_id}: {r.observation.value} and no path"
    hops = path.hops
    assert hops and hops[0].node == r.source, (v.expectation_id, hops)
    if r.observation is Observation.SILENT:
        # The last place that saw it and the first that did not: a drop, or a hop where
        # nothing moved, or one that could not be read; never "seen" all the way.
        # (Or every hop saw it and the reply got back into the source's kernel, the path
        # saying so: an answer the probe did not take for one.)
        came_back = path.note is not None and "came back into" in path.note
        assert came_back or any(h.state is not HopState.SEEN for h in hops), \
            (v.expectation_id, hops)
    dropped = path.dropped_at
    if dropped is not None:
        i = hops.index(dropped)
        later = [h for h in hops[i + 1:] if h.direction == dropped.direction]
        assert not any(h.state is HopState.SEEN for h in later), (v.expectation_id, hops)
        # A finding naming that node says the drop confirms it; the top finding, if it
        # names a place, names this one.
        top = v.findings[0] if v.findings else None
        if top is not None and top.id in PLACED and r.observation is Observation.SILENT:
            assert top.confirmed_by is not None, (v.expectation_id, top, dropped)
            assert f"the drop at {dropped.node}" in top.confirmed_by
    for f in v.findings:
        if f.confirmed_by is not None:
            assert dropped is not None and dropped.node in f.confirmed_by


def check_outputs(record: RunRecord) -> None:
    """Each walked verdict's strip appears in the console, JUnit and HTML; JSON keeps it."""
    walked = [v for v in record.verdicts if v.path is not None]
    out = io.StringIO()
    render_plain(record, Console(file=out, width=200, color_system=None))
    console = out.getvalue()
    xml = junit.dumps(record)
    page = html.render(record)
    back = record_from_dict(json.loads(dumps(record)))
    for v, again in zip(record.verdicts, back.verdicts, strict=True):
        assert again.path == v.path and again.findings == v.findings
    for v in walked:
        assert v.path is not None
        strip = strip_text(v.path)
        assert strip in console, (strip, console)
        assert strip in xml
        assert 'class="pathstrip"' in page
        first = v.path.hops[0]
        assert f"<b>{first.node}</b>" in page


def check_paths(record: RunRecord) -> None:
    for v in record.verdicts:
        if v.result is not None and v.result.observation in WALKED:
            check_path(v)
    check_outputs(record)
