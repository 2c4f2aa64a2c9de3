"""Baseline files: a run's JSON record plus the host snapshot taken with it.

`netcheck diff` and `run --baseline` also accept a plain JSON report (no snapshot then).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcheck.baseline.diff import RunDiff, diff_lines
from netcheck.baseline.snapshot import HostSnapshot
from netcheck.errors import EXIT_USAGE, NetcheckError
from netcheck.model.codec import (
    RecordFormatError,
    decode_dataclass,
    encode,
    record_from_dict,
    record_to_dict,
)
from netcheck.model.results import BaselineRef, Outcome, RunRecord, Verdict
from netcheck.textfile import write_text_atomic

BASELINE_VERSION = 1
_KEY = "netcheck_baseline"


class BaselineError(NetcheckError):
    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    record: RunRecord
    snapshot: HostSnapshot | None = None


def baseline_to_dict(baseline: Baseline) -> dict[str, Any]:
    """The record as the JSON report has it (so a report is a baseline without a snapshot),
    and the snapshot as the codec writes it."""
    return {
        _KEY: BASELINE_VERSION,
        "record": record_to_dict(baseline.record),
        "snapshot": encode(baseline.snapshot),
    }


def snapshot_from_dict(data: Any) -> HostSnapshot:
    return decode_dataclass(HostSnapshot, data, "snapshot")


def save_baseline(path: Path | str, baseline: Baseline) -> None:
    text = json.dumps(baseline_to_dict(baseline), indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(Path(path), text)


def load_baseline(path: Path | str) -> Baseline:
    """Read a baseline file, or a plain JSON report (a baseline without a snapshot)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    try:
        if isinstance(data, dict) and _KEY in data:
            if data[_KEY] != BASELINE_VERSION:
                raise BaselineError(
                    f"{path}: baseline version {data[_KEY]!r} is not supported "
                    f"(this netcheck reads {BASELINE_VERSION})"
                )
            snap = data.get("snapshot")
            return Baseline(
                record=record_from_dict(data.get("record")),
                snapshot=None if snap is None else snapshot_from_dict(snap),
            )
        return Baseline(record=record_from_dict(data))
    except RecordFormatError as exc:
        raise BaselineError(f"{path}: {exc}") from None


def load_snapshot(path: Path | str) -> HostSnapshot | None:
    """A `netcheck snapshot` file, or None when `path` holds something else (a run)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # load_baseline reports it with the reason
    if not isinstance(data, dict) or "namespaces" not in data or "taken_at" not in data:
        return None
    try:
        return snapshot_from_dict(data)
    except RecordFormatError as exc:
        raise BaselineError(f"{path}: {exc}") from None


def regression_verdicts(diff: RunDiff, record: RunRecord) -> tuple[Verdict, ...]:
    """A failing verdict for each regression the run's own verdicts do not already fail on,
    so JUnit and JSON consumers (and `record.ok`) see it."""
    failing = {v.expectation_id for v in record.verdicts if v.outcome is not Outcome.PASS}
    by_id = {v.expectation_id: v for v in record.verdicts}
    out = []
    for change in diff.regressions:
        if change.expectation_id in failing:
            continue
        kind = "newly-opened" if change in diff.newly_opened else "newly-broken"
        current = by_id.get(change.expectation_id)
        message = (
            f"baseline regression: {change.path} {kind.replace('-', ' ')}: "
            f"{change.before} -> {change.after}"
        )
        out.append(
            Verdict(
                expectation_id=f"baseline:{kind}:{change.expectation_id}",
                outcome=Outcome.FAIL,
                message=message,
                expected=f"as in baseline run {diff.baseline_run}: {change.before}",
                observed=change.after,
                result=current.result if current is not None else None,
                findings=current.findings if current is not None else (),
            )
        )
    return tuple(out)


def with_diff(record: RunRecord, diff: RunDiff) -> RunRecord:
    """The record every report is written from: the comparison as `record.baseline` (and,
    as display text, among the facts), regressions as verdicts."""
    lines = diff_lines(diff)
    facts = dict(record.facts)
    facts["baseline.run_id"] = diff.baseline_run
    facts["baseline.regressions"] = str(len(diff.regressions))
    facts["baseline.diff"] = "\n".join(lines) if lines else "no change"
    return dataclasses.replace(
        record,
        facts=facts,
        verdicts=record.verdicts + regression_verdicts(diff, record),
        baseline=BaselineRef(
            run_id=diff.baseline_run, regressions=len(diff.regressions), diff=tuple(lines)
        ),
    )
