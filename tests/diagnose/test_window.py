"""The probe window with the run's trace instance, or its own (real tracefs: lab lock)."""

from __future__ import annotations

import os

import pytest

from netcheck.diagnose.tracefs import DropRecorder
from netcheck.diagnose.window import buffer_kb, observe
from netcheck.model.results import Topology
from netcheck.runtime.naming import new_run_id


def _topology(run_id: str) -> Topology:
    return Topology(run_id=run_id, runtime="netns", nodes={})


@pytest.mark.privileged
def test_the_runs_instance_outlives_the_window_for_the_resends() -> None:
    rec = DropRecorder(new_run_id())
    try:
        with observe(_topology(rec.run_id), recorder=rec, probes=10) as window:
            assert window.recorded_drops, window.problems
            instance = rec.instance
            assert instance is not None
        assert window.trace is rec
        assert os.path.isdir(instance)  # the diagnosis re-sends into it
        with open(os.path.join(instance, "tracing_on"), encoding="ascii") as fh:
            assert fh.read().strip() == "0"  # not recording between windows
    finally:
        rec.close()
    assert not os.path.exists(instance)


def _instances_of(run_id: str) -> list[str]:
    """Where `netcheck-<run_id>` exists in any tracefs this process sees."""
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        roots = [row.split()[1] for row in fh if row.split()[2:3] == ["tracefs"]]
    roots += ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
    return [p for r in roots if os.path.isdir(p := os.path.join(r, "instances",
                                                              f"netcheck-{run_id}"))]


@pytest.mark.privileged
def test_a_window_without_the_runs_recorder_removes_its_own() -> None:
    run_id = new_run_id()
    with observe(_topology(run_id)) as window:
        assert window.recorded_drops, window.problems
        assert window.trace is None  # nothing left open for anyone else
        assert _instances_of(run_id)
    assert not _instances_of(run_id)


def test_buffer_grows_with_the_probes() -> None:
    assert buffer_kb(0) == 0  # tracefs keeps its floor (BUFFER_KB)
    assert buffer_kb(9_900) < buffer_kb(62_250)
    # N=250's mesh: its 124,500 received IP packets (~40 bytes each in the ring) fit twice.
    assert buffer_kb(62_250) * (os.cpu_count() or 1) * 1024 >= 2 * 124_500 * 40
