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
    router: key's legs (only the LANs it names) are tested below with lab-shape."""
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


def _objects(name: str, runtime: str = "netns") -> list[str]:
    plan = load_plan(ROOT / "scenarios" / name)
    return list(dry_run(plan, plan.expectations, runtime, "abc123").objects)


def test_policy_rules_and_tables_are_listed_per_node() -> None:
    lines = _objects("faults/policy-routing.yaml")
    h1 = [ln for ln in lines if ln.startswith(("add ", "no ")) and " h1" in ln]
    assert h1 == [
        "no default route via the LAN's gateway in h1 (default_route: false)",
        "add route in h1: default via 10.51.0.1 dev eth0 table 100",
        "add rule in h1: priority 100 from 10.51.0.11/32 lookup 100",
    ]
    assert "add route in h4: default via 10.52.0.1 dev eth1" in lines
    assert not [ln for ln in lines if " in h2:" in ln]  # h2 has no rule, table or route


def test_extra_addresses_and_routes_with_src_and_onlink_are_listed() -> None:
    lines = _objects("faults/addresses.yaml")
    assert "add address in svc: 10.61.0.11/24 dev eth0" in lines
    assert "add address in svc: 192.0.2.53/32 dev lo" in lines
    assert "add route in c: default via 10.62.0.1 src 10.62.0.21" in lines
    assert "add route in odd: default via 10.62.0.1 dev eth0 onlink" in lines
    # A machine off its LAN's subnet holds its address alone, as the build leaves it.
    assert "create veth odd:eth0 to LAN b (192.168.9.5/32)" in lines


def test_static_neighbours_are_listed() -> None:
    assert "add neighbour in m1: 10.71.0.20 lladdr 02:00:5e:10:00:99 dev eth0 nud permanent" \
        in _objects("faults/static-neighbour.yaml")


def test_router_legs_follow_its_lans_and_a_missing_default_route_is_said() -> None:
    lines = _objects("multihost/lab-shape.yaml")
    assert [ln for ln in lines if ln.startswith("create veth router:")] == [
        "create veth router:a to LAN a (10.91.0.1/24)",
        "create veth router:b to LAN b (10.92.0.1/24)",
    ]
    assert "no default route via the LAN's gateway in quiet (default_route: false)" in lines
    assert "add route in alt: default via 10.92.0.2" in lines


def test_vxlan_devices_hairpin_ports_and_link_states_are_listed() -> None:
    lines = _objects("multihost/vxlan-vni-mismatch.yaml")
    assert "create vxlan a1:vx42 (id 42 remote 10.71.0.12 (a2) dstport 4789 dev eth0), a " \
        "port of network ovl_a's bridge" in lines
    assert "create vxlan a2:vx42 (id 43 remote 10.71.0.11 (a1) dstport 4789 dev eth0), a " \
        "port of network ovl_a's bridge" in lines
    mtu = _objects("multihost/vxlan-mtu.yaml")
    assert any(ln.startswith("create vxlan n1:vx9 (") and "mtu 1450" in ln for ln in mtu)
    hairpin = _objects("faults/vepa-hairpin-port.yaml")
    assert [ln for ln in hairpin if "hairpin" in ln] == [
        "set hairpin on for the switch port of host1:eth0 (LAN lan)"]
    down = _objects("faults/parent-down.yaml")
    assert [ln for ln in down if ln.startswith("set ")] == [
        "set host1:eth0 down",
        "set the switch port of host2:eth0 down (no carrier on host2:eth0)",
    ]


def test_the_docker_dry_run_lists_the_lab_hosts_settings_too() -> None:
    lines = _objects("faults/policy-routing.yaml", "docker")
    assert "add rule in h1: priority 100 from 10.51.0.11/32 lookup 100" in lines
