"""The console: live progress from the engine's events, and a summary table at the end.

Everything that came from a scenario (names, ids, reasons) or from the network (packet
summaries) is put on screen as `rich.text.Text`, never as a markup string, so `[red]` in a
node name is shown as written and `:smile:` stays text. (No markup is composed here; a caller
that does must pass user text through `rich.markup.escape`.)

On a terminal a transient status line shows the phase and a count; elsewhere (CI logs,
pipes) there is no spinner, only plain lines that are worth keeping in a log.
"""

from __future__ import annotations

from types import TracebackType

from rich import box
from rich.console import Console
from rich.status import Status
from rich.table import Table
from rich.text import Text

from netcheck.engine.events import (
    Event,
    PhaseFinished,
    PhaseStarted,
    Progress,
    RunFinished,
    RunStarted,
    VerdictReady,
)
from netcheck.model.results import Finding, Outcome, RunRecord, Verdict
from netcheck.reports import pathstrip
from netcheck.reports.text import outcome_label

OUTCOME_STYLE: dict[Outcome, str] = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.ERROR: "bold magenta",
    Outcome.SKIP: "yellow",
}

# Failures first: they are what the reader came for.
_ORDER: dict[Outcome, int] = {Outcome.FAIL: 0, Outcome.ERROR: 1, Outcome.SKIP: 2, Outcome.PASS: 3}

_PHASE_LABEL: dict[str, str] = {
    "build": "building lab",
    "listen": "starting listeners",
    "probe": "probing",
    "diagnose": "diagnosing",
    "teardown": "tearing down",
}


def _phase_label(phase: str) -> str:
    return _PHASE_LABEL.get(phase, phase)


def _glyphs(console: Console) -> tuple[str, str]:
    """(ellipsis, arrow) that the console's encoding can show."""
    if console.options.ascii_only:
        return "...", "->"
    return "…", "↳"


def outcome_text(outcome: Outcome) -> Text:
    return Text(outcome_label(outcome), style=OUTCOME_STYLE[outcome])


def _finding_lines(finding: Finding, arrow: str) -> list[Text]:
    lines = [Text.assemble(f"  {arrow} ", (finding.id, "yellow"), ": ", finding.summary)]
    if finding.fix:
        lines.append(Text.assemble("    fix: ", (finding.fix, "cyan")))
    return lines


class ConsoleListener:
    """An engine listener (`netcheck.engine.events.Listener`) that draws progress.

    Use it as a context manager, or call `close()`, so the status line is removed even when
    the run raises before `RunFinished`.
    """

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        # A spinner only where it can redraw in place; in logs it would be noise.
        self.live = console.is_terminal and not console.is_dumb_terminal
        self.verbose = verbose
        self.expectations = 0
        self.verdicts = 0
        self.phase: str | None = None
        self._status: Status | None = None

    def __enter__(self) -> ConsoleListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def status_active(self) -> bool:
        return self._status is not None

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted():
                self.expectations = event.expectations
                self.console.print(
                    Text.assemble(
                        "netcheck ",
                        (event.scenario, "bold"),
                        f": run {event.run_id}, runtime {event.runtime}, "
                        f"{event.expectations} expectations",
                    )
                )
            case PhaseStarted():
                self.phase = event.phase
                ellipsis, _ = _glyphs(self.console)
                if self.live:
                    self._show(
                        self._counted(event.phase) or f"{_phase_label(event.phase)}{ellipsis}"
                    )
                else:
                    self.console.print(Text(f"{_phase_label(event.phase)}{ellipsis}"))
            case Progress():
                ellipsis, _ = _glyphs(self.console)
                line = f"{_phase_label(event.phase)}{ellipsis} {event.message}"
                if self.live:
                    self._show(self._counted(event.phase) or line)
                elif self.verbose:
                    self.console.print(Text(line, style="dim"))
            case PhaseFinished():
                self.console.print(
                    Text(f"{event.phase} done in {event.seconds:.2f} s", style="dim")
                )
                if self.phase == event.phase:
                    self.phase = None
                    self.close()
            case VerdictReady():
                self.verdicts += 1
                if self.live and self.phase is not None:
                    counted = self._counted(self.phase)
                    if counted:
                        self._show(counted)
                if event.verdict.outcome in (Outcome.FAIL, Outcome.ERROR):
                    self.print_verdict(event.verdict)
            case RunFinished():
                self.close()

    def _counted(self, phase: str) -> str | None:
        if phase != "probe":
            return None
        return f"{_phase_label(phase)} {self.verdicts}/{self.expectations}"

    def _show(self, line: str) -> None:
        text = Text(line)
        if self._status is None:
            self._status = Status(text, console=self.console)
            self._status.start()
        else:
            self._status.update(text)

    def print_verdict(self, verdict: Verdict) -> None:
        _, arrow = _glyphs(self.console)
        for line in verdict_lines(verdict, arrow):
            self.console.print(line)


# Above this many verdicts the passing ones fold into one line per source (unless -v):
# a 250-endpoint mesh is 62,250 rows no one reads, and minutes of terminal output.
FOLD_ABOVE = 200


def folded(record: RunRecord, verbose: bool = False) -> bool:
    return not verbose and len(record.verdicts) > FOLD_ABOVE


# A folded run lists at most this many of the verdicts that did not pass (failures first),
# then how many more: a mesh whose every probe fails is otherwise 62,250 table rows and as
# many finding blocks (52 s of table layout on a terminal, 7.5 s of plain lines), when the
# lines per source already say where they are and the reports hold each one.
LIST_ABOVE_FOLD = FOLD_ABOVE


def _listed(record: RunRecord, fold: bool) -> tuple[list[Verdict], int]:
    """The verdicts the summary lists, failures first, and how many it leaves out."""
    ordered = sorted(record.verdicts, key=lambda v: _ORDER[v.outcome])
    if not fold:
        return ordered, 0
    problems = [v for v in ordered if v.outcome is not Outcome.PASS]
    return problems[:LIST_ABOVE_FOLD], max(0, len(problems) - LIST_ABOVE_FOLD)


def _more_line(left_out: int) -> Text:
    return Text(f"... and {left_out} more that did not pass: every verdict is in the JSON, "
                "JUnit and HTML reports; -v lists them all here", style="yellow")


def _source(verdict: Verdict) -> str:
    if verdict.result is not None:
        return verdict.result.source
    _, _, rest = verdict.expectation_id.partition(":")
    return rest.partition("->")[0] or "?"


def source_lines(record: RunRecord) -> list[Text]:
    """One line per source: how many of its probes passed, failed, erred, were skipped."""
    by_source: dict[str, dict[Outcome, int]] = {}
    for v in record.verdicts:
        counts = by_source.setdefault(_source(v), dict.fromkeys(Outcome, 0))
        counts[v.outcome] += 1
    width = max((len(name) for name in by_source), default=0)
    lines = []
    for name, counts in by_source.items():
        line = Text(f"{name:<{width}}  ")
        for i, outcome in enumerate((Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.SKIP)):
            if i:
                line.append(", ")
            n = counts[outcome]
            line.append(f"{n} {outcome.value}", style=OUTCOME_STYLE[outcome] if n else "dim")
        lines.append(line)
    return lines


def summary_table(
    record: RunRecord, *, only_problems: bool = False, verdicts: list[Verdict] | None = None
) -> Table:
    """One row per expectation, failures first; a failure's row names its findings.
    `verdicts`: these rows only, in this order (default: the record's, failures first)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("outcome", no_wrap=True)
    # Ids fold rather than lose their tail to an ellipsis: they are what people grep for.
    table.add_column("expectation", overflow="fold")
    table.add_column("expected", overflow="fold")
    table.add_column("observed", overflow="fold")
    rows = (sorted(record.verdicts, key=lambda v: _ORDER[v.outcome]) if verdicts is None
            else verdicts)
    for verdict in rows:
        if only_problems and verdict.outcome is Outcome.PASS:
            continue
        observed = Text(verdict.observed)
        if verdict.findings and verdict.outcome in (Outcome.FAIL, Outcome.ERROR):
            observed.append("\nfindings: ", style="dim")
            observed.append(", ".join(f.id for f in verdict.findings), style="yellow")
        table.add_row(
            outcome_text(verdict.outcome),
            Text(verdict.expectation_id),
            Text(verdict.expected),
            observed,
        )
    return table


def plain_line(verdict: Verdict) -> Text:
    """A verdict as one line for logs: outcome, id, expected, observed, findings' ids."""
    observed = " ".join(verdict.observed.split())  # one line, whatever the observation said
    line = Text.assemble(
        outcome_text(verdict.outcome),
        " ",
        verdict.expectation_id,
        f"  expected {verdict.expected}; observed {observed}",
    )
    if verdict.findings:
        line.append("  findings: ", style="dim")
        line.append(", ".join(f.id for f in verdict.findings), style="yellow")
    return line


def verdict_lines(verdict: Verdict, arrow: str = "↳") -> list[Text]:
    """A failing verdict as a few full-width lines: id, message, then each finding and fix."""
    lines = [
        Text.assemble(
            outcome_text(verdict.outcome),
            " ",
            (verdict.expectation_id, "bold"),
            "  ",
            verdict.message,
        )
    ]
    for finding in verdict.findings:
        lines.extend(_finding_lines(finding, arrow))
    lines.extend(Text(f"  {x}") for x in pathstrip.verdict_lines(verdict, unicode=arrow == "↳"))
    return lines


def counts_line(record: RunRecord) -> Text:
    counts = record.counts()
    parts = [
        (f"{counts[Outcome.PASS]} passed", Outcome.PASS),
        (f"{counts[Outcome.FAIL]} failed", Outcome.FAIL),
        (
            f"{counts[Outcome.ERROR]} " + ("error" if counts[Outcome.ERROR] == 1 else "errors"),
            Outcome.ERROR,
        ),
        (f"{counts[Outcome.SKIP]} skipped", Outcome.SKIP),
    ]
    line = Text.assemble(
        ("OK" if record.ok else "FAILED", "bold green" if record.ok else "bold red"), "  "
    )
    for i, (label, outcome) in enumerate(parts):
        if i:
            line.append(", ")
        line.append(label, style=OUTCOME_STYLE[outcome] if counts[outcome] else "dim")
    line.append(f" in {record.duration_s:.2f} s ({record.scenario}, run {record.run_id})")
    return line


def render_plain(record: RunRecord, console: Console, *, verbose: bool = False) -> None:
    """The summary for logs: one line per verdict (failures first, each followed by its
    findings and fixes), then the counts. Printed with soft wrap: a line is never split.
    A big run (FOLD_ABOVE) shows its passes as one line per source unless `verbose`."""
    _, arrow = _glyphs(console)
    fold = folded(record, verbose)
    if not record.verdicts:
        console.print(Text("no expectations were run", style="yellow"), soft_wrap=True)
    if fold:
        for line in source_lines(record):
            console.print(line, soft_wrap=True)
    listed, left_out = _listed(record, fold)
    for verdict in listed:
        console.print(plain_line(verdict), soft_wrap=True)
        if verdict.outcome in (Outcome.FAIL, Outcome.ERROR):
            for finding in verdict.findings:
                for line in _finding_lines(finding, arrow):
                    console.print(line, soft_wrap=True)
        for x in pathstrip.verdict_lines(verdict, unicode=arrow == "↳"):
            console.print(Text(f"  {x}"), soft_wrap=True)
    if left_out:
        console.print(_more_line(left_out), soft_wrap=True)
    console.print(counts_line(record), soft_wrap=True)


def render_summary(record: RunRecord, console: Console, *, verbose: bool = False) -> None:
    """The end-of-run summary: a table with failures first, each failure's findings and fix
    below it, then one line of counts per outcome and the duration. A big run
    (FOLD_ABOVE) shows one line per source and a table of what did not pass, unless
    `verbose`."""
    _, arrow = _glyphs(console)
    fold = folded(record, verbose)
    if not record.verdicts:
        console.print(Text("no expectations were run", style="yellow"))
    else:
        if fold:
            for line in source_lines(record):
                console.print(line)
        listed, left_out = _listed(record, fold)
        if not fold or not record.ok:
            console.print(summary_table(record, only_problems=fold, verdicts=listed))
        if left_out:
            console.print(_more_line(left_out))
        failing = [v for v in listed if v.outcome in (Outcome.FAIL, Outcome.ERROR)]
        if failing:
            console.print()
        for verdict in failing:
            for line in verdict_lines(verdict, arrow):
                console.print(line)
        for x in pathstrip.passing_lines(record, unicode=arrow == "↳"):
            console.print(Text(x))
    console.print(counts_line(record))
