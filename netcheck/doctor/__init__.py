"""`netcheck doctor`: a preflight checklist (pass/warn/fail, with a fix per item)."""

from __future__ import annotations

from netcheck.doctor.base import CheckResult, Status
from netcheck.doctor.preflight import doctor, run_preflight

__all__ = ["CheckResult", "Status", "doctor", "run_preflight"]
