"""docs/findings.md is generated from the rules and must be current."""

from __future__ import annotations

from netcheck.diagnose.catalogue import ROOT, render
from netcheck.diagnose.rules import RULES


def test_findings_md_is_current() -> None:
    current = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert current == render(), (
        "docs/findings.md is stale: python -m netcheck.diagnose.catalogue > docs/findings.md")


def test_every_rule_says_what_it_needs_and_how_to_fix_it() -> None:
    for rule in RULES:
        assert getattr(rule, "needs", ""), rule
        assert getattr(rule, "remedy", ""), rule
