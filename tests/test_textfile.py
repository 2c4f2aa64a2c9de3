"""A report is complete or absent, even when SIGTERM lands while it is being written."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest

from netcheck import textfile
from netcheck.sigmask import Interrupted, sigterm_raises
from netcheck.textfile import write_text_atomic


def test_sigterm_just_after_the_temporary_file_is_made_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The signal used to raise between mkstemp() and the `try` that removes the temporary
    # file on the way out: a hidden `.report.json.XXXX` stayed behind.
    real = tempfile.mkstemp

    def mkstemp_then_sigterm(*args: Any, **kwargs: Any) -> tuple[int, str]:
        made = real(*args, **kwargs)
        signal.raise_signal(signal.SIGTERM)
        return made

    monkeypatch.setattr(textfile.tempfile, "mkstemp", mkstemp_then_sigterm)
    target = tmp_path / "report.json"
    with sigterm_raises(), pytest.raises(Interrupted):
        write_text_atomic(target, '{"complete": true}\n')
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert target.read_text() == '{"complete": true}\n'
