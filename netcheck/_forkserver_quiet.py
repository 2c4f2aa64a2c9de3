"""The forkserver's first preload: it makes the forkserver, and the workers it forks, ignore
SIGINT from the start.

Ctrl-C at a terminal reaches the whole process group. The run's main process handles it and
stops its workers by PID; the forkserver ignores SIGINT itself, but only once its preload
(scapy, about a second) is over, and a Ctrl-C in that second printed a KeyboardInterrupt
traceback from it. Workers inherit the forkserver's SIGINT disposition.

Imported anywhere else, this module does nothing.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _in_forkserver_preload() -> bool:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if (frame.f_code.co_name == "main"
                and frame.f_globals.get("__name__") == "multiprocessing.forkserver"):
            return True
        frame = frame.f_back
    return False


if _in_forkserver_preload():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
