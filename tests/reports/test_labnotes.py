"""A lab node's settings and the VXLAN tunnels, as the topology shows them (pure: plans from
the shipped scenarios through the scenario loader)."""

from __future__ import annotations

import dataclasses

from netcheck.model.plan import Plan
from netcheck.reports.labnotes import NodeNotes, node_notes, tunnels
from netcheck.scenario import load_plan
from tests.helpers import ROOT


def _plan(name: str, sets: dict[str, str] | None = None) -> Plan:
    return load_plan(ROOT / "scenarios" / name, sets)


def test_rules_tables_and_a_missing_default_route_per_host() -> None:
    notes = node_notes(_plan("faults/policy-routing.yaml"))
    assert notes["h1"].groups() == (
        ("routes", ("no default route via the LAN's gateway (default_route: false)",)),
        ("tables", ("table 100: default via 10.51.0.1 dev eth0",)),
        ("rules", ("priority 100 from 10.51.0.11/32 lookup 100",)),
    )
    assert notes["h1"].badge() == "1 rule · 1 tbl · no default"
    assert notes["h5"].badge() == "1 rule · 1 tbl"
    assert "m" not in notes and "router" not in notes  # nothing beyond their LAN address


def test_extra_addresses_and_routes_with_src_and_onlink() -> None:
    notes = node_notes(_plan("faults/addresses.yaml"))
    assert notes["svc"].addresses == ("10.61.0.11/24 dev eth0", "192.0.2.53/32 dev lo")
    assert notes["svc"].badge() == "2 addr"
    assert "default via 10.62.0.1 src 10.62.0.21" in notes["c"].routes
    assert "default via 10.62.0.1 dev eth0 onlink" in notes["odd"].routes


def test_static_neighbours() -> None:
    m1 = node_notes(_plan("faults/static-neighbour.yaml"))["m1"]
    assert m1.neighbours == ("10.71.0.20 lladdr 02:00:5e:10:00:99 dev eth0 nud permanent",)
    assert m1.badge() == "1 nbr"


def test_router_legs_hairpin_and_down_ports() -> None:
    assert node_notes(_plan("multihost/lab-shape.yaml"))["router"].legs == ("a", "b")
    hairpin = node_notes(_plan("faults/vepa-hairpin-port.yaml"))
    assert hairpin["host1"].ports == ("eth0: hairpin on its switch port",)
    assert "host2" not in hairpin
    down = node_notes(_plan("faults/parent-down.yaml"))
    assert (down["host1"].ports, down["host2"].ports) == (("eth0: down",), ("eth0: no-carrier",))
    assert down["host2"].badge() == "no-carrier"


def test_vxlan_devices_are_paired_end_to_end_and_a_vni_mismatch_is_named() -> None:
    pairs = {(t.a, t.b): t for t in tunnels(_plan("multihost/vxlan-vni-mismatch.yaml"))}
    assert set(pairs) == {("a1", "a2"), ("b1", "b2")}  # each tunnel once
    assert pairs[("a1", "a2")].mismatches == ("VNI 42 ≠ 43",)
    assert pairs[("a1", "a2")].label == "VNI 42 ≠ 43"
    assert pairs[("b1", "b2")].mismatches == ()
    assert pairs[("b1", "b2")].label == "VNI 42 · port 4789"
    agreed = tunnels(_plan("multihost/vxlan-vni-mismatch.yaml", {"A2_VNI": "42"}))
    assert all(not t.mismatches for t in agreed)


def test_a_port_mismatch_is_named() -> None:
    found = {(t.a, t.b): t.mismatches for t in tunnels(_plan("multihost/vxlan-port-mismatch.yaml"))}
    assert found == {("p1", "p2"): ("port 4789 ≠ 8472",), ("q1", "q2"): ()}


def test_a_device_with_no_device_pointing_back_is_one_sided() -> None:
    plan = _plan("multihost/vxlan-vni-mismatch.yaml")
    lab = plan.lab
    a2 = lab.host("a2")
    lonely = dataclasses.replace(plan, lab=dataclasses.replace(lab, hosts=tuple(
        dataclasses.replace(h, vxlans=()) if h is a2 else h for h in lab.hosts)))
    t = next(t for t in tunnels(lonely) if t.a == "a1")
    assert t.b_dev is None and t.mismatches == ("no device on a2 points back to a1",)
    assert "one-sided" in t.label


def test_empty_notes_say_so() -> None:
    assert NodeNotes().empty and NodeNotes().badge() == "" and NodeNotes().lines() == ()
