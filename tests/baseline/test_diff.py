from __future__ import annotations

from netcheck.baseline.diff import diff_lines, diff_records, path_key
from netcheck.model.results import Observation as O
from netcheck.model.results import Outcome
from tests.baseline.records import RP, record, verdict

P, F, E, S = Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.SKIP


def test_identical_runs_have_no_diff() -> None:
    a = record("aaaaaa", verdict("icmp:c1->c2", P, O.ANSWERED))
    b = record("bbbbbb", verdict("icmp:c1->c2", P, O.ANSWERED))
    diff = diff_records(a, b)
    assert diff.empty and not diff.has_regressions
    assert diff_lines(diff) == []


def test_pass_to_fail_is_newly_broken_and_a_regression() -> None:
    a = record("a", verdict("icmp:c1->c3", P, O.ANSWERED))
    b = record("b", verdict("icmp:c1->c3", F, O.SILENT, findings=(RP,)))
    diff = diff_records(a, b)
    assert [p.expectation_id for p in diff.newly_broken] == ["icmp:c1->c3"]
    assert diff.newly_broken[0].before == "pass: answered"
    assert diff.newly_broken[0].after == "fail: silent"
    assert diff.newly_broken[0].path == "icmp c1 -> c3"
    assert diff.regressions == diff.newly_broken
    assert diff.findings[0].added == ("rp-filter: router drops replies (rp_filter=1)",)
    assert "newly broken: icmp:c1->c3 (pass: answered -> fail: silent)" in diff_lines(diff)


def test_pass_to_error_is_newly_broken() -> None:
    a = record("a", verdict("icmp:c1->c3", P, O.ANSWERED))
    b = record("b", verdict("icmp:c1->c3", E, O.ERROR))
    assert [p.after for p in diff_records(a, b).newly_broken] == ["error: error"]


def test_isolation_breached_is_newly_opened_not_expected() -> None:
    a = record("a", verdict("icmp:c1->db", P, O.SILENT, reachable=False))
    b = record("b", verdict("icmp:c1->db", F, O.ANSWERED, reachable=False))
    diff = diff_records(a, b)
    assert diff.newly_broken == ()
    assert [p.expectation_id for p in diff.newly_opened] == ["icmp:c1->db"]
    assert not diff.newly_opened[0].expected_open
    assert diff.has_regressions
    assert any("[not expected to open]" in line for line in diff_lines(diff))


def test_opening_that_still_passes_is_a_regression() -> None:
    # Firewall gone: the port now answers with a RST. "Unreachable" still passes (no SYN-ACK),
    # but the host is reachable where it was silent: the diff must flag it.
    a = record("a", verdict("tcp/5432:c1->db", P, O.SILENT, reachable=False))
    b = record("b", verdict("tcp/5432:c1->db", P, O.REFUSED, reachable=False))
    diff = diff_records(a, b)
    assert [p.expectation_id for p in diff.regressions] == ["tcp/5432:c1->db"]


def test_expected_opening_is_a_fix_not_a_regression() -> None:
    a = record("a", verdict("icmp:c1->nas", F, O.SILENT))
    b = record("b", verdict("icmp:c1->nas", P, O.ANSWERED))
    diff = diff_records(a, b)
    assert diff.newly_opened[0].expected_open
    assert not diff.has_regressions


def test_fail_to_pass_without_opening_is_fixed() -> None:
    a = record("a", verdict("icmp:c1->h1", F, O.ANSWERED, reachable=False))
    b = record("b", verdict("icmp:c1->h1", P, O.SILENT, reachable=False))
    diff = diff_records(a, b)
    assert [p.expectation_id for p in diff.fixed] == ["icmp:c1->h1"]
    assert not diff.has_regressions


def test_renamed_expectation_matches_by_path() -> None:
    a = record("a", verdict("icmp:c1->c2", P, O.ANSWERED))
    renamed = verdict("icmp:c1->c2", F, O.SILENT)
    # Same path, another id (a scenario edit): still compared.
    from dataclasses import replace

    b = record("b", replace(renamed, expectation_id="ping-c2"))
    diff = diff_records(a, b)
    assert [p.expectation_id for p in diff.newly_broken] == ["ping-c2"]
    assert diff.only_in_baseline == () and diff.only_in_current == ()


def test_unmatched_ids_are_listed() -> None:
    a = record("a", verdict("icmp:c1->c2", P, O.ANSWERED))
    b = record("b", verdict("icmp:c1->c9", P, O.ANSWERED))
    diff = diff_records(a, b)
    assert diff.only_in_baseline == ("icmp:c1->c2",)
    assert diff.only_in_current == ("icmp:c1->c9",)
    assert not diff.has_regressions


def test_finding_removed_is_reported() -> None:
    a = record("a", verdict("icmp:c1->c3", F, O.SILENT, findings=(RP,)))
    b = record("b", verdict("icmp:c1->c3", F, O.SILENT))
    diff = diff_records(a, b)
    assert diff.findings[0].removed == ("rp-filter: router drops replies (rp_filter=1)",)
    assert diff.findings[0].added == ()


def test_skip_to_pass_is_no_change() -> None:
    a = record("a", verdict("icmp:c1->c3", S, None))
    b = record("b", verdict("icmp:c1->c3", P, O.ANSWERED))
    diff = diff_records(a, b)
    assert not diff.newly_opened and not diff.newly_broken and not diff.fixed


def test_path_key_from_id_when_no_result() -> None:
    v = verdict("tcp/80:c1->nas@lan", S, None)
    assert path_key(v) == ("c1", "nas@lan", "tcp/80")
