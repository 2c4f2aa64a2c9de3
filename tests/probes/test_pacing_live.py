"""A mesh too big for the kernel's neighbour table, run as users run it: no errors.

40 endpoints on one macvlan network probe each other (1,560 probes, 3,120 neighbour
entries if all went out at once, against gc_thresh3 = 1024 for the whole host) and a dead
one (its link down after the build), which every live endpoint expects unreachable.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from netcheck.engine.plan_tasks import build_tasks
from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.results import Observation, Outcome, Topology
from netcheck.probes import pool
from netcheck.scenario import load_plan

N_LIVE = 40
SUBNET = ipaddress.ip_network("10.232.0.0/22")


def scenario(n_live: int) -> str:
    hosts = list(SUBNET.hosts())
    names = [f"c{i}" for i in range(n_live)]
    lines = [
        "name: paced-mesh",
        "runtime: netns",
        "lab:",
        "  lans:",
        f"    lan: {{subnet: {SUBNET}}}",
        "  hosts:",
        f"    h1: {{uplinks: [{{ifname: eth0, lan: lan, ip: {hosts[0]}}}]}}",
        "networks:",
        "  net:",
        "    driver: macvlan",
        "    parent: eth0",
        "    macvlan_mode: bridge",
        f"    subnets: [{{subnet: {SUBNET}}}]",
        "endpoints:",
        *(f"  {name}: {{host: h1, networks: {{net: {{ip: {hosts[10 + i]}}}}}}}"
          for i, name in enumerate([*names, "dead"])),
        "expectations:",
        f"  - mesh: [{', '.join(names)}]",
        "    probe: icmp",
        f"  - from: [{', '.join(names)}]",
        "    to: dead",
        "    probe: icmp",
        "    reachable: false",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.privileged
def test_a_mesh_beyond_the_neighbour_table_passes_without_errors(
    tmp_path: Path, no_leftovers: None
) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(scenario(N_LIVE))
    plan = load_plan(path)
    needed: list[dict[int, int]] = []

    def kill_dead(topology: Topology) -> None:
        tasks, _ = build_tasks(plan.expectations, topology, {})
        needed.append(pool.pace_tokens(tasks))
        node = topology.nodes["dead"]
        with IPRoute(netns=node.netns, flags=0) as ipr:
            index = ipr.link_lookup(ifname=node.interfaces[0].ifname)[0]
            ipr.link("set", index=index, state="down")

    pinned: list[str] = []

    def look(topology: Topology) -> None:
        # After the probes, before the teardown: the run's pins are gone (the scenario
        # configures no static entry), its FAILED marks for the dead one stay.
        for name, node in topology.nodes.items():
            if node.netns is None or name == "dead":
                continue
            with IPRoute(netns=node.netns, flags=0) as ipr:
                pinned.extend(f"{name}: {m.get_attr('NDA_DST')}" for m in ipr.get_neighbours()
                              if int(m["state"]) & 0x80)

    overflows = pool.neighbour_overflows().get(4, 0)
    record = run_plan(plan, RunOptions(runtime="netns", timeout=1.0, after_build=kill_dead,
                                       inspect=look))
    assert pinned == []
    # Unpaced, this run would have overflowed the table: the pacing was in play.
    assert needed and needed[0].get(4)
    assert pool.neighbour_overflows().get(4, 0) == overflows
    counts = record.counts()
    assert counts[Outcome.ERROR] == 0, [v.message for v in record.verdicts
                                        if v.outcome is Outcome.ERROR][:3]
    assert counts[Outcome.PASS] == len(record.verdicts) == N_LIVE * (N_LIVE - 1) + N_LIVE
    to_dead = [v for v in record.verdicts if v.expectation_id.endswith("->dead")]
    assert len(to_dead) == N_LIVE
    for v in to_dead:
        # Passed on silence, and silence only counts when the probe left (no overflow).
        assert v.result is not None and v.result.observation is Observation.SILENT
        assert v.result.sent, v.expectation_id
    answered = [v for v in record.verdicts if not v.expectation_id.endswith("->dead")]
    assert all(v.result is not None and v.result.observation is Observation.ANSWERED
               for v in answered)


@pytest.mark.privileged
def test_grow_neigh_table_probes_unpaced_records_and_restores(
    tmp_path: Path, no_leftovers: None
) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(scenario(N_LIVE))
    plan = load_plan(path)
    thresh3 = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
    before = int(thresh3.read_text())

    def kill_dead(topology: Topology) -> None:
        node = topology.nodes["dead"]
        with IPRoute(netns=node.netns, flags=0) as ipr:
            index = ipr.link_lookup(ifname=node.interfaces[0].ifname)[0]
            ipr.link("set", index=index, state="down")

    overflows = pool.neighbour_overflows().get(4, 0)
    record = run_plan(plan, RunOptions(runtime="netns", timeout=1.0, after_build=kill_dead,
                                       grow_neigh_table=True))
    fact = record.facts.get("neigh_table", "")
    assert int(thresh3.read_text()) == before  # restored
    if before < 2 * N_LIVE * N_LIVE:
        assert fact.startswith("raised for this run"), fact
        assert f"gc_thresh3 {before} -> " in fact
    assert pool.neighbour_overflows().get(4, 0) == overflows
    counts = record.counts()
    assert counts[Outcome.ERROR] == 0, [v.message for v in record.verdicts
                                        if v.outcome is Outcome.ERROR][:3]
    assert counts[Outcome.PASS] == len(record.verdicts) == N_LIVE * (N_LIVE - 1) + N_LIVE
    for v in record.verdicts:
        assert v.result is not None
        if v.expectation_id.endswith("->dead"):
            assert v.result.observation is Observation.SILENT and v.result.sent
        else:
            assert v.result.observation is Observation.ANSWERED


@pytest.mark.privileged
def test_sites_share_worker_processes_a_thread_each(
    tmp_path: Path, no_leftovers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(scenario(6))
    plan = load_plan(path)
    monkeypatch.setattr(pool, "SHARED_PROCESSES", 2)
    reports: list[pool.WorkerReport] = []
    run_workers = pool.run_workers

    def keep(*args: Any, **kw: Any) -> Any:
        results, got = run_workers(*args, **kw)
        reports.extend(got)
        return results, got

    monkeypatch.setattr(pool, "run_workers", keep)
    record = run_plan(plan, RunOptions(runtime="netns", timeout=1.0))
    # 6 source namespaces (the one called dead probes nobody), served by 2 processes.
    assert len(reports) == 6
    assert len({r.pid for r in reports}) == 2
    counts = record.counts()
    assert counts[Outcome.PASS] == 6 * 5 and counts[Outcome.FAIL] == 6  # "dead" is alive here
    for v in record.verdicts:
        assert v.result is not None
        assert v.result.observation is Observation.ANSWERED, v.expectation_id
