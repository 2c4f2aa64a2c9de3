"""No tracefs state outlives a run: trace instances and private tracefs mounts.

Found by the inventory: instances `netcheck-<id>` of finished runs stayed in the kernel.
Cause: a run without a mounted tracefs reused another run's private mount; when that run
ended and unmounted it, the first could no longer reach (or remove) its own instance.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from netcheck.diagnose.tracefs import DropRecorder
from netcheck.runtime.clean import clean_tracefs
from netcheck.runtime.naming import new_run_id
from tests.reliability import inventory
from tests.reliability.inventory import Item

pytestmark = pytest.mark.privileged


def _ours(run_ids: set[str]) -> list[Item]:
    now = inventory.tracefs_instances() | inventory.mounts()
    return sorted(i for i in now if i.owner in run_ids)


def test_overlapping_recorders_both_clean_up(clean_machine: frozenset[Item]) -> None:
    first, second = DropRecorder(new_run_id()), DropRecorder(new_run_id())
    try:
        assert first.start(), first.problem
        assert second.start(), second.problem
        assert len(_ours({first.run_id, second.run_id})) >= 2
        first.stop()  # the first run ends while the second still records
        second.stop()
        assert second.problem is None, second.problem
    finally:
        first.close()
        second.close()
    assert not _ours({first.run_id, second.run_id})


def test_clean_removes_an_abandoned_instance(clean_machine: frozenset[Item]) -> None:
    """What SIGKILL leaves (an instance still tracing, maybe a private mount) is swept by
    `netcheck clean` once the run is dead (here: it never registered, so it is)."""
    rec = DropRecorder(new_run_id())
    assert rec.start(), rec.problem
    assert _ours({rec.run_id}), "nothing to abandon"
    assert clean_tracefs(dry_run=True, runs={rec.run_id})
    assert _ours({rec.run_id}), "a dry run removed something"
    removed = clean_tracefs(runs={rec.run_id})
    assert f"trace instance netcheck-{rec.run_id}" in removed
    assert not _ours({rec.run_id})
    rec._instance = rec._own_mount = None  # already swept: nothing for close() to do


def test_ctrl_c_as_the_instance_is_made_leaves_nothing(
    clean_machine: frozenset[Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the random-signal test in CI: SIGINT between making the instance and
    remembering it leaked the instance (close() did not know it)."""
    real_mkdir = os.mkdir

    def mkdir_then_ctrl_c(path: Any, *args: Any, **kwargs: Any) -> None:
        real_mkdir(path, *args, **kwargs)
        if "/instances/" in str(path):
            os.kill(os.getpid(), signal.SIGINT)  # lands at the next bytecode boundary

    rec = DropRecorder(new_run_id())
    monkeypatch.setattr(os, "mkdir", mkdir_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        try:
            rec.start()
        finally:
            rec.close()
    monkeypatch.undo()
    assert not _ours({rec.run_id})
