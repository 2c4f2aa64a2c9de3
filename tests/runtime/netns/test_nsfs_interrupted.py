"""Ctrl-C while namespaces are being created: `created` is complete when the error leaves."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from netcheck.runtime.netns import nsfs


def _main_is_waiting(main: int) -> bool:
    frame = sys._current_frames().get(main)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return "create_many" in names and bool({"join", "wait"} & set(names))


def test_ctrl_c_while_waiting_for_the_helper_returns_only_once_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An interrupted join() marks the helper stopped while it still runs (CPython 3.11):
    # the namespace it was making then appeared in `created` after teardown had read it.
    main = threading.get_ident()
    release = threading.Event()

    def slow_create(spec: nsfs.NsSpec, created: dict[str, int]) -> None:
        deadline = time.monotonic() + 10
        while not _main_is_waiting(main) and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)  # the helper blocks it: the main thread's
        release.wait(0.5)
        created[spec.path] = -1

    monkeypatch.setattr(nsfs, "_create_one", slow_create)
    specs = [nsfs.NsSpec(path=str(tmp_path / "ns" / name)) for name in ("a", "b")]
    created: dict[str, int] = {}
    with pytest.raises(KeyboardInterrupt):
        nsfs.create_many(specs, created, share_dir=False)
    assert list(created) == [specs[0].path]  # the one under way finished; no other started
