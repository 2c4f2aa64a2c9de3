"""Several routers (lab.routers) and neighbour states, as the scenario states them."""

from __future__ import annotations

import ipaddress

from netcheck.model.plan import NodeKind, NudState, RouterLeg
from netcheck.scenario import load_plan
from tests.helpers import ROOT
from tests.scenario.conftest import Fail, Load


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_routers_in_series_resolve_to_legs_and_routes() -> None:
    plan = load_plan(ROOT / "scenarios" / "multihost" / "routers-series.yaml")
    lab = plan.lab
    assert lab.router is None
    assert [r.name for r in lab.all_routers] == ["r1", "r2"]
    r1, r2 = lab.routers
    assert lab.legs(r1) == (RouterLeg(lan="a", ip=ip("10.61.1.1")),
                            RouterLeg(lan="t", ip=ip("10.61.0.1")))
    assert lab.legs(r2) == (RouterLeg(lan="t", ip=ip("10.61.0.2")),
                            RouterLeg(lan="b", ip=ip("10.61.2.1")))
    assert [str(r) for r in r1.routes] == ["10.61.2.0/24 via 10.61.0.2"]
    assert r1.location is not None and r1.location.line > 0
    assert plan.node_kind("r2") is NodeKind.ROUTER
    # A target pinned to a router's leg is the leg's own address.
    by_id = {e.id: e for e in plan.expectations}
    assert "icmp:ma->r2@b" in by_id


def test_the_router_key_keeps_its_meaning(load: Load) -> None:
    plan = load("""
        lab:
          lans:
            a: {subnet: 10.61.1.0/24, gateway: 10.61.1.1}
            b: {subnet: 10.61.2.0/24, gateway: 10.61.2.1}
            c: {subnet: 10.61.3.0/24}
          router: {lans: [a, b]}
        expectations:
          - {from: router, to: 10.61.2.1, probe: icmp}
        """)
    router = plan.lab.router
    assert router is not None and router.legs is None and plan.lab.routers == ()
    assert [(leg.lan, str(leg.ip)) for leg in plan.lab.legs(router)] == [
        ("a", "10.61.1.1"), ("b", "10.61.2.1")]


def test_router_and_routers_side_by_side(load: Load) -> None:
    plan = load("""
        lab:
          lans:
            a: {subnet: 10.61.1.0/24, gateway: 10.61.1.1}
            t: {subnet: 10.61.0.0/24, gateway: 10.61.0.1}
            b: {subnet: 10.61.2.0/24}
          router: {lans: [a, t], routes: ["10.61.2.0/24 via 10.61.0.2"]}
          routers:
            - name: edge
              lans: {t: 10.61.0.2, b: 10.61.2.254}
              forward: false
        expectations:
          - {from: router, to: edge@b, probe: icmp}
        """)
    assert [r.name for r in plan.lab.all_routers] == ["router", "edge"]
    (edge,) = plan.lab.routers
    assert not edge.forward
    assert str(plan.expectations[0].target) == "edge@b"


def test_a_leg_may_not_take_an_address_someone_holds(fail: Fail) -> None:
    err = fail("""
        lab:
          lans:
            t: {subnet: 10.61.0.0/24}
          routers:
            - {name: r1, lans: {t: 10.61.0.5}}
          machines:
            m: {lan: t, ip: 10.61.0.5}
        expectations:
          - {from: m, to: r1, probe: icmp}
        """)
    assert "10.61.0.5 is already used by router 'r1' (lan 't')" in str(err)


def test_neighbour_states(load: Load) -> None:
    plan = load("""
        lab:
          lans:
            a: {subnet: 10.61.1.0/24, gateway: 10.61.1.1}
          router: {}
          machines:
            m:
              lan: a
              ip: 10.61.1.10
              neighbours:
                - {ip: 10.61.1.1, mac: "02:00:00:00:00:01", state: stale}
                - {ip: 10.61.1.2, mac: "02:00:00:00:00:02", permanent: false}
                - {ip: 10.61.1.3, mac: "02:00:00:00:00:03"}
                - {ip: 10.61.1.4, mac: "02:00:00:00:00:04", state: NOARP}
        expectations:
          - {from: m, to: router, probe: icmp}
        """)
    (m,) = plan.lab.machines
    assert [n.state for n in m.stack.neighbours] == [
        NudState.STALE, NudState.REACHABLE, NudState.PERMANENT, NudState.NOARP]
    assert str(m.stack.neighbours[0]) == "10.61.1.1 lladdr 02:00:00:00:00:01 dev eth0 nud stale"
    assert [n.permanent for n in m.stack.neighbours] == [False, False, True, False]
    assert [n.state.static for n in m.stack.neighbours] == [False, False, True, True]
