"""Faults under a running engine: the lab breaks between build and probe.

In every case the affected verdicts must be errors (or failures) that say why, none may
pass, and teardown must still leave nothing behind. The distinction the verdicts keep:

- a probe FROM a node that cannot send (its namespace is gone, its container was killed,
  its only link was deleted) is an ERROR: nothing was tested;
- a probe TO a node that vanished is legitimately SILENT: the packet left and nothing
  answered, which is exactly what "unreachable" means. An expected-reachable probe then
  FAILS (it is not an error: the network really does not deliver), and an
  expected-unreachable one to a vanished target would pass, correctly: it is unreachable.

The fault is applied through RunOptions.after_build (after the build, before listeners).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from netcheck.model.plan import Plan
from netcheck.model.results import Outcome, RunRecord, Topology, Verdict
from netcheck.runtime.netns import nsfs
from tests.reliability import runs
from tests.reliability.inventory import Item
from tests.reliability.runs import wait_for

pytestmark = pytest.mark.privileged


def _run(plan: Plan, fault: Callable[[Topology], None], **opts: Any) -> RunRecord:
    applied: list[Topology] = []

    def hook(topology: Topology) -> None:
        fault(topology)
        applied.append(topology)

    record = runs.run(plan, after_build=hook, **opts)
    assert applied, "the fault was never applied"
    return record


def _by_id(record: RunRecord) -> dict[str, Verdict]:
    return {v.expectation_id: v for v in record.verdicts}


def _assert_no_pass(verdicts: list[Verdict]) -> None:
    passed = [v.expectation_id for v in verdicts if v.outcome is Outcome.PASS]
    assert not passed, f"passed despite the fault: {passed}"


def _from(record: RunRecord, node: str) -> list[Verdict]:
    return [v for v in record.verdicts if f":{node}->" in v.expectation_id]


def _to(record: RunRecord, node: str) -> list[Verdict]:
    return [v for v in record.verdicts if v.expectation_id.endswith(f"->{node}")]


# --- netns -------------------------------------------------------------------------------


def test_namespace_removed_under_the_run(clean_machine: frozenset[Item]) -> None:
    """c1's namespace file is removed (as `ip netns del` would) before the probes."""

    def remove_c1(topo: Topology) -> None:
        assert nsfs.remove(topo.nodes["c1"].netns)

    # Probes from c1 only: c1 is no target, so no responder pins its namespace.
    record = _run(runs.quickstart(), remove_c1, only=("*:c1->*",))
    from_c1 = _from(record, "c1")
    assert from_c1
    for v in from_c1:
        assert v.outcome is Outcome.ERROR, (v.expectation_id, v.message)
        assert v.result is not None and v.result.observation.value == "error"
        assert "could not enter namespace" in v.result.detail, v.result.detail


def test_responder_namespace_removed(clean_machine: frozenset[Item]) -> None:
    """A target's namespace file vanishes before its responder starts: every check that
    needs c2 to answer on a port, and every probe from c2, is an ERROR naming the
    namespace; none passes. The rest of the lab is still tested."""

    def remove_c2(topo: Topology) -> None:
        assert nsfs.remove(topo.nodes["c2"].netns)

    record = _run(runs.quickstart(), remove_c2)
    by_id = _by_id(record)
    lost = [*_from(record, "c2"), by_id["tcp/80:c1->c2"]]
    for v in lost:
        assert v.outcome is Outcome.ERROR, (v.expectation_id, v.message)
        assert "could not enter namespace" in v.message and "-c2" in v.message, v.message
    _assert_no_pass(lost)
    assert by_id["icmp:c1->nas"].outcome is Outcome.PASS


def _delete_link(netns: str, ifname: str) -> None:
    with IPRoute(netns=netns, flags=0) as ipr:
        ipr.link("del", index=ipr.link_lookup(ifname=ifname)[0])


def test_source_link_deleted(clean_machine: frozenset[Item]) -> None:
    """c1 loses its only link: every probe from c1 has no route: ERROR, never SILENT."""
    record = _run(runs.quickstart(), lambda t: _delete_link(t.nodes["c1"].netns, "eth0"),
                  only=("*:c1->*",))
    from_c1 = _from(record, "c1")
    assert from_c1
    for v in from_c1:
        assert v.outcome is Outcome.ERROR, (v.expectation_id, v.message)
        assert v.result is not None and v.result.observation.value == "error"


def test_target_link_deleted(clean_machine: frozenset[Item]) -> None:
    """The nas loses its link: probes to it leave and get nothing back (SILENT), so the
    expected-reachable ones fail; none passes, and c1<->c2 still pass (untouched)."""
    record = _run(runs.quickstart(), lambda t: _delete_link(t.nodes["nas"].netns, "eth0"))
    to_nas = _to(record, "nas")
    assert to_nas
    _assert_no_pass(to_nas)
    for v in to_nas:
        assert v.outcome is Outcome.FAIL, (v.expectation_id, v.message)
        assert v.result is not None and v.result.observation.value == "silent"
    verdicts = _by_id(record)
    assert verdicts["icmp:c1->c2"].outcome is Outcome.PASS


# --- docker (lab mode: the lab's own dockerd, never the machine's) -----------------------------


def _container_pid(topo: Topology, node: str) -> int:
    netns = topo.nodes[node].netns
    assert netns.startswith("/proc/"), netns
    return int(netns.split("/")[2])


@pytest.mark.docker
def test_container_killed(clean_machine: frozenset[Item], docker_client: Any,
                          dockerd: None) -> None:
    def kill_c1(topo: Topology) -> None:
        pid = _container_pid(topo, "c1")
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}/ns/net"), 20)

    # c1 only as a source (a target would need its responder): its probes error, c2's
    # are untouched.
    record = _run(runs.quickstart(), kill_c1, runtime="docker",
                  only=("*:c1->*", "icmp:c2->nas"))
    from_c1 = _from(record, "c1")
    assert from_c1
    for v in from_c1:
        assert v.outcome is Outcome.ERROR, (v.expectation_id, v.message)
        assert v.result is not None and "could not enter namespace" in v.result.detail
    assert _by_id(record)["icmp:c2->nas"].outcome is Outcome.PASS


@pytest.mark.docker
def test_killed_container_that_must_answer(clean_machine: frozenset[Item], docker_client: Any,
                                           dockerd: None) -> None:
    """c1 should answer tcp/80 but its container is gone: its port checks and every probe
    from it are ERRORs naming c1's namespace, never a made-up verdict."""

    def kill_c1(topo: Topology) -> None:
        pid = _container_pid(topo, "c1")
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}/ns/net"), 20)

    record = _run(runs.quickstart(), kill_c1, runtime="docker")
    lost = [*_from(record, "c1"), _by_id(record)["tcp/80:c2->c1"]]
    for v in lost:
        assert v.outcome is Outcome.ERROR, (v.expectation_id, v.message)
        assert "could not enter namespace" in v.message, v.message
    _assert_no_pass(lost)


def _dockerd_pid(run_id: str, host: str) -> int:
    return int(Path(f"/run/netcheck/{run_id}/{host}/dockerd.pid").read_text().strip())


@pytest.mark.docker
def test_lab_dockerd_restarted(clean_machine: frozenset[Item], docker_client: Any,
                               dockerd: None) -> None:
    """The lab host's dockerd is stopped (taking its containers down) and started again
    with the same command line; the containers do not come back (no restart policy)."""
    from netcheck.runtime.docker.dockerd import pid_alive, ping_socket

    restarted: list[subprocess.Popen[bytes]] = []

    def restart(topo: Topology) -> None:
        pid = _dockerd_pid(topo.run_id, "host1")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        os.kill(pid, signal.SIGTERM)
        assert wait_for(lambda: not pid_alive(pid), 30), "dockerd did not stop"
        ns = topo.nodes["host1"].netns
        # dockerd itself: put it back in host1's namespace the way the runtime does.
        cmd = ["nsenter", f"--net={ns}", "--", *[a.decode() for a in argv]]
        restarted.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        sock = Path(f"/run/netcheck/{topo.run_id}/host1/docker.sock")
        assert wait_for(lambda: sock.exists() and ping_socket(sock), 30), "no restart"

    try:
        record = _run(runs.quickstart(), restart, runtime="docker",
                      only=("*->router", "*->nas", "*->host1"))
    finally:
        for proc in restarted:  # teardown stops it by its pid file; this is a backstop
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
    containers = [v for v in record.verdicts
                  if v.expectation_id.split(":")[1].split("->")[0] in ("c1", "c2")]
    assert containers
    for v in containers:
        assert v.outcome is Outcome.ERROR, (v.expectation_id, v.message)
        assert v.result is not None and "could not enter namespace" in v.result.detail
