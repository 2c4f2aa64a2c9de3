"""`netcheck run --dry-run` as lines (pure: the plan only; the live check that nothing is
created is in tests/e2e/test_literal_targets.py)."""

from __future__ import annotations

from netcheck.engine.dryrun import dry_run
from netcheck.scenario import load_plan
from tests.helpers import ROOT

LITERAL = ROOT / "scenarios" / "existing" / "literal-targets.yaml"
OVERLAY = ROOT / "scenarios" / "multihost" / "overlay-two-hosts.yaml"


def test_netns_dry_run_lists_objects_then_probes_in_a_stable_order() -> None:
    plan = load_plan(LITERAL)
    first = dry_run(plan, plan.expectations, "netns", "abc123").lines()
    assert first == dry_run(plan, plan.expectations, "netns", "abc123").lines()
    assert first[0].startswith("dry run of literal-targets")
    objects = [ln for ln in first if ln.startswith("create ")]
    assert objects[:4] == [
        "create netns /run/netns/nc-abc123-sw (the lab switch)",
        "create netns /run/netns/nc-abc123-router (router)",
        "create netns /run/netns/nc-abc123-db (machine)",
        "create netns /run/netns/nc-abc123-ops (host)",
    ]
    assert "create bridge for network apps in nc-abc123-ops" in objects
    assert objects[-1] == "create state file /run/netcheck/abc123.json"
    probes = [ln for ln in first if ln.startswith("probe ")]
    assert [p.split(":", 2)[0] + ":" + p.split(":", 2)[1] for p in probes][:2] == [
        "probe icmp:ops->10.20.0.5", "probe icmp:ops->pg",
    ]
    assert probes[4] == (
        "probe tcp/5432:ops@10.20.9.10->10.20.0.5: tcp/5432 from ops (netns "
        "/run/netns/nc-abc123-ops, source 10.20.9.10) to 10.20.0.5, expect reachable"
    )
    # Every line is one item: nothing wraps.
    assert all("\n" not in ln for ln in first)


def test_docker_dry_run_names_daemons_networks_and_containers() -> None:
    plan = load_plan(OVERLAY)
    lines = dry_run(plan, plan.expectations, "docker", "abc123").lines()
    assert "start dockerd in nc-abc123-host1 (lab host host1's Docker)" in lines
    # An overlay is created once, on the swarm manager.
    assert [ln for ln in lines if "nc-abc123-overnet" in ln] == [
        "create docker network nc-abc123-overnet (overlay) on lab host host1"
    ]
    assert "create docker container nc-abc123-web on lab host host1 (networks overnet, " \
        "mynet)" in lines
    assert any(ln.startswith("probe icmp:web->app: icmp from web (container nc-abc123-web")
               for ln in lines)


def test_only_the_selected_expectations_are_listed() -> None:
    plan = load_plan(LITERAL)
    chosen = [e for e in plan.expectations if e.id.startswith("tcp/")]
    probes = [ln for ln in dry_run(plan, chosen, "netns", "abc123").lines()
              if ln.startswith("probe ")]
    assert len(probes) == 3


def test_every_router_and_each_of_its_legs_is_listed() -> None:
    """lab.routers: a namespace per router, a veth per leg with the leg's own address; the
    router: key's legs are only the LANs it names (lab-shape: a and b, not c)."""
    plan = load_plan(ROOT / "scenarios" / "multihost" / "routers-series.yaml")
    objects = [ln for ln in dry_run(plan, plan.expectations, "netns", "abc123").lines()
               if ln.startswith("create ")]
    assert "create netns /run/netns/nc-abc123-r2 (router)" in objects
    assert [ln for ln in objects if ln.startswith("create veth r")] == [
        "create veth r1:a to LAN a (10.61.1.1/24)",
        "create veth r1:t to LAN t (10.61.0.1/24)",
        "create veth r2:t to LAN t (10.61.0.2/24)",
        "create veth r2:b to LAN b (10.61.2.1/24)",
    ]
    shape = load_plan(ROOT / "scenarios" / "multihost" / "lab-shape.yaml")
    lines = dry_run(shape, shape.expectations, "netns", "abc123").lines()
    assert [ln for ln in lines if ln.startswith("create veth router:")] == [
        "create veth router:a to LAN a (10.91.0.1/24)",
        "create veth router:b to LAN b (10.92.0.1/24)",
    ]
