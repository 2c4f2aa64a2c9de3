from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from rich.console import Console

from netcheck.engine.events import (
    Event,
    PhaseFinished,
    PhaseStarted,
    Progress,
    RunFinished,
    RunStarted,
    VerdictReady,
)
from netcheck.model.results import RunRecord
from netcheck.reports.console import ConsoleListener, render_plain, render_summary

ANSI = re.compile(r"\x1b\[")


def _summary(record: RunRecord, **kw: object) -> str:
    console = Console(record=True, width=120, **kw)  # type: ignore[arg-type]
    render_summary(record, console)
    return console.export_text()


def test_summary_rows_failures_first(record: RunRecord) -> None:
    text = _summary(record)
    lines = text.splitlines()

    def row(ident: str) -> int:
        return next(i for i, line in enumerate(lines) if ident in line)

    for verdict in record.verdicts:
        assert verdict.expectation_id in text
    assert row("FAIL      icmp/df/1400:c1->nas") < row("ERROR     tcp/80:c2->c1@v6net")
    assert row("ERROR     tcp/80:c2->c1@v6net") < row("SKIP      icmp:c3->c1")
    assert row("SKIP      icmp:c3->c1") < row("PASS      arp:c1->c2")
    assert "unreachable (macvlan-host-isolation)" in text
    assert "kernel lacks ipvlan" in text


def test_summary_findings_and_fix_under_failures(record: RunRecord) -> None:
    text = _summary(record)
    assert "findings: rp-filter" in text
    block = text[text.index("FAIL icmp/df/1400:c1->nas  expected reachable") :]
    assert "rp-filter: nas drops replies arriving on the wrong interface" in block
    assert "fix: sysctl -w net.ipv4.conf.all.rp_filter=2 on nas" in block


def test_summary_counts_and_duration(record: RunRecord) -> None:
    last = _summary(record).rstrip().splitlines()[-1]
    assert "FAILED" in last
    assert "2 passed, 2 failed, 1 error, 1 skipped in 3.75 s" in last


def test_summary_ok_run(record_factory: Callable[..., RunRecord], record: RunRecord) -> None:
    passed = tuple(v for v in record.verdicts if v.outcome.value == "pass")
    text = _summary(record_factory(verdicts=passed))
    assert "OK  2 passed, 0 failed, 0 errors, 0 skipped" in text
    assert "no expectations were run" in _summary(record_factory(verdicts=()))


def test_user_strings_are_not_markup(record: RunRecord) -> None:
    # Colours on, so a markup tag that was interpreted would vanish into ANSI codes.
    text = _summary(record, force_terminal=True, color_system="truecolor")
    assert "icmp:<script>&[red]x[/red]->c2" in text
    assert "no route from [red]x[/red] to c2" in text
    assert "silent [bold]" in text
    assert ":smile:" in text


def test_summary_plain_when_not_a_terminal(record: RunRecord) -> None:
    out = io.StringIO()
    render_summary(record, Console(file=out, width=100, force_terminal=False))
    assert not ANSI.search(out.getvalue())
    assert "FAIL      icmp/df/1400:c1->nas" in out.getvalue()


def test_summary_ascii_console(record: RunRecord) -> None:
    # A CI log with an ASCII locale: a glyph it cannot show would raise on write.
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    console = Console(file=out, width=100, force_terminal=False)
    render_summary(record, console)
    listener = ConsoleListener(console)
    for event in _events(record):
        listener(event)
    out.flush()
    text = raw.getvalue().decode("ascii")
    assert "-> rp-filter: nas drops replies" in text
    assert "building lab..." in text


def _events(record: RunRecord) -> list[Event]:
    events: list[Event] = [
        RunStarted(run_id="ab12cd", scenario="quickstart", runtime="netns", expectations=6),
        PhaseStarted(phase="build"),
        Progress(phase="build", message="1/3 namespaces"),
        Progress(phase="build", message="3/3 namespaces"),
        PhaseFinished(phase="build", seconds=1.5),
        PhaseStarted(phase="probe"),
    ]
    events += [VerdictReady(verdict=v) for v in record.verdicts]
    events += [PhaseFinished(phase="probe", seconds=1.1), RunFinished(record=record)]
    return events


def test_listener_plain_lines_in_ci(record: RunRecord) -> None:
    out = io.StringIO()
    listener = ConsoleListener(Console(file=out, width=120, force_terminal=False))
    assert not listener.live
    for event in _events(record):
        listener(event)
    text = out.getvalue()
    assert not ANSI.search(text)
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "netcheck quickstart: run ab12cd, runtime netns, 6 expectations"
    assert "building lab…" in lines
    assert "build done in 1.50 s" in lines
    assert "namespaces" not in text  # progress detail only when verbose
    assert any(
        line.startswith("FAIL icmp/df/1400:c1->nas  expected reachable, observed silent")
        for line in lines
    )
    assert "    fix: sysctl -w net.ipv4.conf.all.rp_filter=2 on nas" in lines
    assert any(line.startswith("ERROR tcp/80:c2->c1@v6net") for line in lines)
    assert "icmp:<script>&[red]x[/red]->c2" in text
    assert not any(line.startswith(("PASS", "SKIP")) for line in lines)


def test_listener_verbose_prints_progress(record: RunRecord) -> None:
    out = io.StringIO()
    listener = ConsoleListener(Console(file=out, width=120, force_terminal=False), verbose=True)
    for event in _events(record):
        listener(event)
    assert "building lab… 3/3 namespaces" in out.getvalue().splitlines()


def test_listener_status_on_a_terminal(record: RunRecord) -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    with ConsoleListener(console) as listener:
        assert listener.live
        events = _events(record)
        for event in events[:3]:
            listener(event)
        assert listener.status_active
        for event in events[3:]:
            listener(event)
            if isinstance(event, VerdictReady):
                assert listener.status_active
        assert not listener.status_active
    assert "FAIL" in out.getvalue()


def test_listener_close_stops_the_status_after_an_abort() -> None:
    console = Console(file=io.StringIO(), width=120, force_terminal=True)
    listener = ConsoleListener(console)
    try:
        with listener:
            listener(PhaseStarted(phase="build"))
            assert listener.status_active
            raise RuntimeError("engine blew up")
    except RuntimeError:
        pass
    assert not listener.status_active


def test_plain_summary_is_one_unwrapped_line_per_verdict(record: RunRecord) -> None:
    out = io.StringIO()
    # Narrower than any line: a table would wrap and fold; plain lines must not.
    console = Console(file=out, width=40, force_terminal=False)
    render_plain(record, console)
    lines = out.getvalue().splitlines()
    for verdict in record.verdicts:
        mine = [line for line in lines if f" {verdict.expectation_id}  expected " in line]
        assert len(mine) == 1, (verdict.expectation_id, lines)
        observed = " ".join(verdict.observed.split())
        assert mine[0].endswith(observed) or f"observed {observed}  findings: " in mine[0]
        assert mine[0].startswith(verdict.outcome.value.upper() + " ")
    assert "2 passed, 2 failed, 1 error, 1 skipped in 3.75 s" in lines[-1]
    assert not ANSI.search(out.getvalue())


def test_a_big_run_folds_passes_into_a_line_per_source(
    record_factory: Callable[..., RunRecord],
) -> None:
    from netcheck.model.results import Outcome
    from tests.reports.test_html import big_plan, big_record

    record = big_record(big_plan(30), record_factory)  # 870 verdicts, one in 37 failing
    fails = [v for v in record.verdicts if v.outcome is Outcome.FAIL]
    for render in (render_summary, render_plain):
        console = Console(record=True, width=200)
        render(record, console)
        text = console.export_text()
        lines = text.splitlines()
        for i in range(30):
            (line,) = [x for x in lines if x.startswith(f"ep{i:02d}  ")]
            n_fail = sum(v.result is not None and v.result.source == f"ep{i:02d}" for v in fails)
            assert f"{29 - n_fail} pass, {n_fail} fail, 0 error, 0 skip" in line
        for v in fails:
            assert v.expectation_id in text
        assert "PASS" not in text
        console = Console(record=True, width=200)
        render(record, console, verbose=True)
        assert console.export_text().count("PASS") == len(record.verdicts) - len(fails)


def test_a_big_run_lists_only_the_first_problems_and_counts_the_rest(
    record_factory: Callable[..., RunRecord], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from netcheck.model.results import Outcome
    from netcheck.reports import console as console_module
    from tests.reports.test_html import big_plan, big_record

    record = big_record(big_plan(30), record_factory)  # 870 verdicts, one in 37 failing
    fails = [v for v in record.verdicts if v.outcome is Outcome.FAIL]
    assert len(fails) > 5
    monkeypatch.setattr(console_module, "LIST_ABOVE_FOLD", 5)
    for render in (render_summary, render_plain):
        console = Console(record=True, width=200)
        render(record, console)
        text = console.export_text()
        listed = [v for v in fails if f"{v.expectation_id} " in text]
        assert listed == fails[:5]  # the first five, in the record's order
        assert f"... and {len(fails) - 5} more that did not pass" in text
        assert f"{len(fails)} failed" in text.splitlines()[-1]
        console = Console(record=True, width=200)
        render(record, console, verbose=True)  # -v: every one
        text = console.export_text()
        assert all(f"{v.expectation_id} " in text for v in fails)
        assert "more that did not pass" not in text
