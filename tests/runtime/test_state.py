from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from netcheck.runtime import state


def test_write_read_remove_round_trip(tmp_path: Path) -> None:
    st = state.for_this_process("a1b2c3", "netns", ("nc-a1b2c3-sw", "nc-a1b2c3-c1"))
    path = state.write(st, str(tmp_path))
    assert path == tmp_path / "a1b2c3.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert state.read("a1b2c3", str(tmp_path)) == st
    assert state.run_ids(str(tmp_path)) == ["a1b2c3"]
    assert state.is_alive(st)
    assert state.remove("a1b2c3", str(tmp_path))
    assert not state.remove("a1b2c3", str(tmp_path))
    assert state.read("a1b2c3", str(tmp_path)) is None


def test_dead_and_recycled_pids_are_not_alive() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    st = state.for_this_process("a1b2c3", "netns", ())
    dead = state.RunState(run_id="a1b2c3", pid=proc.pid, pid_start=1, started="", runtime="",
                          netns=())
    assert not state.is_alive(dead)
    # Our own pid with another start time: the pid was reused by someone else.
    recycled = state.RunState(run_id="a1b2c3", pid=os.getpid(), pid_start=(st.pid_start or 0) + 1,
                              started="", runtime="", netns=())
    assert not state.is_alive(recycled)


def test_a_null_start_time_protects_nothing(tmp_path: Path) -> None:
    # A file without pid_start (netcheck always writes one) naming a pid that lives forever.
    (tmp_path / "a1b2c3.json").write_text(
        '{"run_id": "a1b2c3", "pid": 1, "pid_start": null, "started": "", "netns": []}'
    )
    st = state.read("a1b2c3", str(tmp_path))
    assert st is not None and st.pid_start is None
    assert state.process_start(1) is not None  # pid 1 is there
    assert not state.is_alive(st)


def test_garbage_state_files_read_as_missing(tmp_path: Path) -> None:
    (tmp_path / "a1b2c3.json").write_text("{not json")
    (tmp_path / "b1b2c3.json").write_text('{"pid": "x"}')
    (tmp_path / "notarun.json").write_text("{}")
    assert state.read("a1b2c3", str(tmp_path)) is None
    assert state.read("b1b2c3", str(tmp_path)) is None
    assert state.run_ids(str(tmp_path)) == ["a1b2c3", "b1b2c3"]


def test_process_start_parses_names_with_spaces_and_parens() -> None:
    assert state.process_start(os.getpid()) is not None
    assert state.process_start(2**22 + 1) is None


def test_each_registered_run_is_journalled_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "runs.txt"
    monkeypatch.setenv(state.JOURNAL_ENV, str(journal))
    for run_id in ("a1b2c3", "d4e5f6"):
        state.write(state.for_this_process(run_id, "netns", ()), str(tmp_path / "state"))
    assert journal.read_text() == "a1b2c3\nd4e5f6\n"
    assert state.journal_runs() == {"a1b2c3", "d4e5f6"}
    monkeypatch.delenv(state.JOURNAL_ENV)
    state.write(state.for_this_process("0a0b0c", "netns", ()), str(tmp_path / "state"))
    assert state.journal_runs() == frozenset()
    assert "0a0b0c" not in journal.read_text()
