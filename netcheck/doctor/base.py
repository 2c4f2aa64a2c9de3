"""The doctor's vocabulary: one check result, with a status and a fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    id: str  # kernel, link:macvlan, sysctl:rp_filter, docker, overlap, ...
    status: Status
    detail: str  # what was found, one line
    fix: str | None = None
    # True: the scenario cannot run without it (a FAIL here makes doctor/run exit 3).
    required: bool = False

    @property
    def blocking(self) -> bool:
        return self.status is Status.FAIL and self.required
