"""Where the guest's Python spends its time: a stack sampler, for `netcheck vm run --profile`.

A thread looks at every other thread's stack at a fixed interval and counts each stack it
sees, so the counts are wall-clock time per stack (a thread waiting on a child process or a
socket counts too, which is the point: under TCG most of a batch is waiting on something).
No tracing hook, so the code under it runs at its own speed; one sample walks a few dozen
frames (~1 ms under TCG), at 10 per second.

The output is the "folded" format of flame graph tools, one stack per line, root first:
`thread;module.function;module.function COUNT`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from pathlib import Path
from types import FrameType

INTERVAL_S = 0.1
_MAX_DEPTH = 64


def _label(frame: FrameType) -> str:
    code = frame.f_code
    module = Path(code.co_filename).stem
    return f"{module}.{getattr(code, 'co_qualname', code.co_name)}"


def fold(thread: str, frame: FrameType | None) -> str:
    """One stack, root first, as a `;`-joined line (the sampled thread's name first)."""
    names: list[str] = []
    while frame is not None and len(names) < _MAX_DEPTH:
        names.append(_label(frame))
        frame = frame.f_back
    return ";".join([thread, *reversed(names)])


class StackSampler:
    """`start()`, run the work, `stop()`: the folded stacks and how often each was seen."""

    def __init__(self, interval: float = INTERVAL_S) -> None:
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vm-sampler", daemon=True)

    def _sample(self) -> None:
        me = threading.get_ident()
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident != me:
                self.counts[fold(names.get(ident, str(ident)), frame)] += 1
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> StackSampler:
        self._thread.start()
        return self

    def stop(self) -> Counter[str]:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.counts

    def write(self, path: Path) -> None:
        """The folded stacks, most seen first (write-then-rename: never half a file)."""
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.write(f"# interval_s={self.interval} samples={self.samples}\n")
            for stack, n in self.counts.most_common():
                out.write(f"{stack} {n}\n")
        os.replace(tmp, path)
