"""docs/findings.md, generated from the rules themselves: what each finding means (the rule's
docstring), the evidence it needs (`needs`), the fix (`remedy`) and the fault scenarios
under scenarios/faults/ that show it (their `reason:`). A test keeps the file current:

    python -m netcheck.diagnose.catalogue > docs/findings.md
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from netcheck.diagnose.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ROOT / "scenarios" / "faults"


def _meaning(rule: type) -> str:
    doc = inspect.getdoc(rule) or inspect.getdoc(sys.modules[rule.__module__]) or ""
    first = doc.split("\n\n", 1)[0]
    return " ".join(first.split())


def _scenarios() -> dict[str, list[str]]:
    from netcheck.scenario import load_plan

    out: dict[str, list[str]] = {}
    for path in sorted(FAULTS.glob("*.yaml")):
        plan = load_plan(str(path), {})
        for reason in sorted({e.reason for e in plan.expectations if e.reason}):
            out.setdefault(reason, []).append(f"scenarios/faults/{path.name}")
    return out


def render() -> str:
    shows = _scenarios()
    lines = [
        "# Findings",
        "",
        "What netcheck can name as the cause of a probe that got no answer. A scenario's",
        "`reason:` names one of these ids. Generated from the rules "
        "(`python -m netcheck.diagnose.catalogue > docs/findings.md`); "
        "tests/diagnose/test_catalogue.py keeps it current.",
        "",
        "When several findings explain one probe, the one with the strongest evidence comes",
        "first: the kernel's own word (a drop reason, a counter that moved), then the kernel",
        "judging this very packet (a route lookup), then state read from the nodes.",
        "",
    ]
    for rule in sorted(RULES, key=lambda r: str(getattr(r, "id", ""))):
        rid = str(getattr(rule, "id", ""))
        lines += [f"## `{rid}`", "", _meaning(rule), ""]
        needs = getattr(rule, "needs", None)
        if needs:
            lines += [f"- **Evidence**: {needs}", ""]
        remedy = getattr(rule, "remedy", None)
        if remedy:
            lines += [f"- **Fix**: {remedy}", ""]
        where = shows.get(rid)
        lines += [f"- **Shown by**: {', '.join(where) if where else 'no fault scenario yet'}",
                  ""]
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
