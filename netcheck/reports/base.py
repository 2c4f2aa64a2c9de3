"""The reporter contract: a finished run in, a file out.

Every reporter takes the same input: the RunRecord, the plan it ran (None when the record
was loaded back from a file) and the baseline diff when the run was compared with one. What
a reporter does not use it ignores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from netcheck.baseline.diff import RunDiff
from netcheck.model.codec import gc_paused
from netcheck.model.plan import Plan
from netcheck.model.results import RunRecord


class Reporter(Protocol):
    name: str

    def write(
        self, record: RunRecord, path: Path, *, plan: Plan | None = None,
        diff: RunDiff | None = None,
    ) -> None: ...


_REGISTRY: dict[str, Callable[[], Reporter]] = {}


def register(name: str, factory: Callable[[], Reporter]) -> None:
    _REGISTRY[name] = factory


def registered() -> Mapping[str, Callable[[], Reporter]]:
    return dict(_REGISTRY)


def write_reports(
    record: RunRecord,
    targets: Mapping[str, Path],
    *,
    plan: Plan | None = None,
    diff: RunDiff | None = None,
    written: Callable[[str, Path], None] | None = None,
) -> None:
    """Write each registered reporter named in `targets` (name -> path), in that order;
    `written(name, path)` after each file."""
    reporters = registered()
    unknown = sorted(set(targets) - set(reporters))
    if unknown:
        raise KeyError(f"no reporter named {', '.join(unknown)} (have {', '.join(reporters)})")
    for name, path in targets.items():
        # A reporter makes a million short-lived objects: enough to start full collections.
        with gc_paused():
            reporters[name]().write(record, Path(path), plan=plan, diff=diff)
        if written is not None:
            written(name, Path(path))
