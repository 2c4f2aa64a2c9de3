"""The leak check counts this session's runs only: another netcheck run on the machine is
never our leak (the suite journals its runs; tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.runtime import state
from tests.reliability.inventory import Item, leaks


def test_objects_of_runs_this_session_did_not_start_are_not_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "runs.txt"
    journal.write_text("a1b2c3\n")
    monkeypatch.setenv(state.JOURNAL_ENV, str(journal))
    ours = Item("netns", "nc-a1b2c3-sw", "a1b2c3")
    theirs = Item("netns", "nc-ffffff-sw", "ffffff")
    nobodys = Item("link", "stray0", None)
    assert leaks(set(), {ours, theirs, nobodys}) == sorted([ours, nobodys])
    # Without a journal (the inventory used by hand) every new object counts.
    monkeypatch.delenv(state.JOURNAL_ENV)
    assert leaks(set(), {ours, theirs, nobodys}) == sorted([ours, theirs, nobodys])


def test_the_suite_runs_with_a_journal_and_sigint_not_ignored() -> None:
    import os
    import signal

    assert os.environ.get(state.JOURNAL_ENV)
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
