"""What the kernel said while the probes ran: drop reasons, counter deltas, log lines.

The engine wraps its probe phase in `observe(topology)`; the diagnosis reads the window
afterwards. Observing never fails a run: whatever cannot be read is left out, with why.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from netcheck.diagnose import counters
from netcheck.diagnose.kmsg import KernelLog
from netcheck.diagnose.tracefs import Drop, DropRecorder, Window
from netcheck.model.results import Topology
from netcheck.sigmask import signals_blocked

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ProbeWindow:
    started: float = 0.0  # CLOCK_MONOTONIC
    ended: float = 0.0
    drops: list[Drop] = field(default_factory=list)
    # netns path -> counters that grew while the probes ran
    counter_deltas: dict[str, dict[str, int]] = field(default_factory=dict)
    kernel_log: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recorded_drops: bool = False
    # The run's recorder, still open after the window for the diagnosis's re-sends (when
    # the caller gave one to `observe`); not part of what was observed.
    trace: DropRecorder | None = field(default=None, repr=False, compare=False)

    def delta(self, netns: str, name: str) -> int:
        return self.counter_deltas.get(netns, {}).get(name, 0)

    def drops_where(self, *, reason: str | None = None, dev: str | None = None,
                    protocol: str | None = None) -> list[Drop]:
        return [
            d for d in self.drops
            if (reason is None or d.reason == reason)
            and (dev is None or d.dev == dev)
            and (protocol is None or d.protocol == protocol)
        ]

    def log_lines(self, *needles: str) -> list[str]:
        return [line for line in self.kernel_log if all(n in line for n in needles)]


def _namespaces(topology: Topology) -> list[str]:
    # A remote container's namespace has no counters to read from here.
    return sorted({p for node in topology.nodes.values() if (p := node.site.netns) is not None})


def _snapshot(paths: Sequence[str]) -> dict[str, Mapping[str, int]]:
    return {p: counters.read(p) for p in paths}


# Trace buffer bytes a probe may need in the probe window: the receives of its request and
# reply (~40 bytes each in the ring), doubled as the probes are not spread evenly over CPUs.
_BYTES_PER_PROBE = 2 * 2 * 48


def buffer_kb(probes: int) -> int:
    """Per-CPU trace buffer for a probe window of `probes` probes (tracefs clamps it)."""
    return math.ceil(probes * _BYTES_PER_PROBE / (os.cpu_count() or 1) / 1024)


@contextmanager
def observe(topology: Topology, *, trace: bool = True, recorder: DropRecorder | None = None,
            probes: int = 0) -> Iterator[ProbeWindow]:
    """The probe window. With `recorder` (the run's), its instance stays for the re-sends
    and the caller removes it; without, the window makes its own and removes it."""
    window = ProbeWindow(trace=recorder)
    paths = _namespaces(topology)
    before: dict[str, Mapping[str, int]] = {}
    own = recorder is None
    if recorder is None and trace:
        recorder = DropRecorder(topology.run_id)
    klog = KernelLog()
    try:
        try:
            before = _snapshot(paths)
        except Exception as exc:  # evidence is optional; the probes are not
            window.problems.append(f"counters: {exc}")
        klog.start()
        if recorder is not None:
            recorder.open(buffer_kb=buffer_kb(probes))
            window.recorded_drops = recorder.begin(Window.PROBES)
        window.started = time.monotonic()
        yield window
    finally:
        # Ctrl-C here must not skip closing the recorder (its trace instance and private
        # tracefs mount would outlive the run): signals wait until the window is read.
        with signals_blocked():
            _close_window(window, recorder, klog, paths, before)
            if own and recorder is not None:
                recorder.close()
        log.debug("probe window: %d drops, %d log lines, problems %s",
                  len(window.drops), len(window.kernel_log), window.problems)


def _close_window(
    window: ProbeWindow,
    recorder: DropRecorder | None,
    klog: KernelLog,
    paths: Sequence[str],
    before: Mapping[str, Mapping[str, int]],
) -> None:
    window.ended = time.monotonic()
    if recorder is not None:
        # The buffer was emptied as the window began: every drop in it is in the window.
        window.drops = recorder.end()
        if recorder.problem:
            window.problems.append(recorder.problem)
    window.kernel_log = klog.read_new()
    if klog.problem:
        window.problems.append(klog.problem)
    try:
        after = _snapshot(paths)
        window.counter_deltas = {p: counters.delta(before.get(p, {}), after[p]) for p in paths}
    except Exception as exc:
        window.problems.append(f"counters: {exc}")
