"""The opt-in neighbour-table growth: what it asks for (pure), and what `netcheck clean`
does with a dead run's record (never a live run's, never a value someone changed since,
never a file outside the neighbour thresholds)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from netcheck.runtime import neightable, state
from netcheck.runtime.naming import new_run_id

THRESH3 = "/proc/sys/net/ipv4/neigh/default/gc_thresh3"


def test_wanted_makes_room_for_the_demand_and_what_is_held() -> None:
    current = {(4, "gc_thresh2"): 512, (4, "gc_thresh3"): 1024}
    got = neightable.wanted({4: 124_500}, {4: 300}, current)
    need = 124_500 + 300 + neightable.HEADROOM
    assert got[(4, "gc_thresh3")] == got[(4, "gc_thresh2")]
    assert need <= got[(4, "gc_thresh3")] < need + 1024
    assert got[(4, "gc_thresh3")] % 1024 == 0


def test_wanted_never_lowers_and_skips_what_fits() -> None:
    current = {(4, "gc_thresh2"): 512, (4, "gc_thresh3"): 1024}
    assert neightable.wanted({4: 800}, {4: 100}, current) == {}  # 800 + 100 + 96 <= 1024
    assert neightable.wanted({6: 10}, {}, current) == {}  # no current value read: untouched
    big = {(4, "gc_thresh2"): 1 << 20, (4, "gc_thresh3"): 1 << 19}
    assert neightable.wanted({4: 600_000}, {}, big) == {(4, "gc_thresh3"): 587 * 1024}


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _record(state_dir: Path, run_id: str, pid: int, pid_start: int | None,
            changes: list[dict[str, object]]) -> Path:
    folder = state_dir / neightable.SYSCTL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    path.write_text(json.dumps({"run_id": run_id, "pid": pid, "pid_start": pid_start,
                                "changes": changes}))
    return path


def _current() -> int:
    return int(Path(THRESH3).read_text())


def test_clean_leaves_a_live_runs_record(tmp_path: Path) -> None:
    me = os.getpid()
    path = _record(tmp_path, new_run_id(), me, state.process_start(me), [
        {"key": "net.ipv4.neigh.default.gc_thresh3", "path": THRESH3, "before": 1,
         "after": _current()}])
    assert neightable.clean_sysctls(state_dir=str(tmp_path)) == []
    assert path.exists()


def test_clean_leaves_a_value_changed_since_and_drops_the_record(tmp_path: Path) -> None:
    now = _current()
    run_id = new_run_id()
    path = _record(tmp_path, run_id, _dead_pid(), 1, [
        {"key": "net.ipv4.neigh.default.gc_thresh3", "path": THRESH3, "before": 1,
         "after": now + 12345}])
    assert neightable.clean_sysctls(dry_run=True, state_dir=str(tmp_path)) == [
        f"sysctl net.ipv4.neigh.default.gc_thresh3 {now + 12345} -> 1 (run {run_id})"]
    assert path.exists()  # a dry run changes nothing
    out = neightable.clean_sysctls(state_dir=str(tmp_path))
    assert out == [f"sysctl net.ipv4.neigh.default.gc_thresh3 left at {now} (changed by "
                   f"someone else since) (run {run_id})"]
    assert _current() == now and not path.exists()


def test_clean_never_follows_a_path_it_does_not_write(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("5\n")
    path = _record(tmp_path, new_run_id(), _dead_pid(), 1, [
        {"key": "x", "path": str(victim), "before": 1, "after": 5}])
    assert neightable.clean_sysctls(state_dir=str(tmp_path)) == []
    assert victim.read_text() == "5\n" and path.exists()


@pytest.mark.privileged
def test_clean_restores_a_dead_runs_value(tmp_path: Path) -> None:
    # before == after == the value now: the restore path runs, the host keeps its value.
    now = _current()
    run_id = new_run_id()
    path = _record(tmp_path, run_id, _dead_pid(), 1, [
        {"key": "net.ipv4.neigh.default.gc_thresh3", "path": THRESH3, "before": now,
         "after": now}])
    assert neightable.clean_sysctls(state_dir=str(tmp_path)) == [
        f"sysctl net.ipv4.neigh.default.gc_thresh3 {now} -> {now} (run {run_id})"]
    assert not path.exists() and _current() == now


def test_a_demand_that_fits_changes_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the host holds now is not this test's business: an empty table, so 2 fit.
    monkeypatch.setattr(neightable, "_entries", lambda: {4: 0, 6: 0})
    facts: dict[str, str] = {}
    before = _current()
    with neightable.grown(new_run_id(), {4: 2}, facts, state_dir=str(tmp_path)) as changes:
        assert changes == []
    assert _current() == before
    assert facts["neigh_table"].startswith("large enough, left as it is (")
    assert f"net.ipv4.neigh.default.gc_thresh3={before}" in facts["neigh_table"]
    assert not (tmp_path / neightable.SYSCTL_DIR).exists()
