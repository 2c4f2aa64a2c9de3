"""Ctrl-C while the docker runtime waits for parallel calls: none is left running."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from netcheck.runtime.docker.handles import parallel


def test_a_signal_during_the_wait_lets_every_started_call_finish() -> None:
    # A call still running after the exception left (a container being created) would
    # create what teardown, already past its list of containers, never removes.
    finished: list[int] = []
    main = threading.get_ident()
    release = threading.Event()

    def main_is_joining() -> bool:
        frame = sys._current_frames().get(main)
        while frame is not None:
            if frame.f_code.co_name == "shutdown":
                return True
            frame = frame.f_back
        return False

    def call(item: int) -> None:
        if item == 0:
            deadline = time.monotonic() + 10
            while not main_is_joining() and time.monotonic() < deadline:
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGINT)  # the workers block it: the main thread's
        release.wait(0.5)
        finished.append(item)

    with pytest.raises(KeyboardInterrupt):
        parallel(call, [0, 1])
    assert sorted(finished) == [0, 1]
