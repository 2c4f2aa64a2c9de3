"""LiveState.resend records each re-send in one trace instance (real tracefs and packets;
the re-send itself is a datagram the test sends, the probe machinery is not under test)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import cast

import pytest

from netcheck.diagnose.live import LiveState
from netcheck.diagnose.tracefs import DropRecorder
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.results import ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.runtime.naming import new_run_id
from tests.diagnose.test_tracefs import send_dropped, veth_pair

__all__ = ["veth_pair"]  # the fixture, used by name

_TASK = cast(ProbeTask, object())  # handed to the sender below, which ignores it


@pytest.mark.privileged
@pytest.mark.parametrize("runs_own", [True, False])
def test_each_resend_sees_its_own_drops_in_one_instance(
    veth_pair: tuple[str, str], runs_own: bool
) -> None:
    a, b = veth_pair
    send = [True, False, True]

    def resend(tasks: Sequence[ProbeTask], timeout: float) -> list[ProbeResult]:
        if send.pop(0):
            send_dropped(a, b)
        return []

    run = DropRecorder(new_run_id())
    window = ProbeWindow(trace=run if runs_own else None)
    live = LiveState(window, reprobe=resend)
    instances: set[str | None] = set()
    try:
        got = []
        for _ in range(3):
            r = live.resend(run.run_id, _TASK, [f"/run/netns/{b}"])
            assert r.traced, r.problems
            got.append([d.dev for d in r.drops if d.reason == "NETFILTER_DROP"])
            instances.add((run if runs_own else live._trace).instance)  # type: ignore[union-attr]
        assert got == [["vb"], [], ["vb"]]  # none carried over from the re-send before
        assert len(instances) == 1 and None not in instances
    finally:
        live.close()
    (instance,) = instances
    assert instance is not None
    # The run's instance is the run's to remove (after the diagnosis); LiveState's own
    # goes with it.
    assert os.path.isdir(instance) == runs_own
    run.close()
    assert not os.path.exists(instance)
