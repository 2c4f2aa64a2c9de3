"""A lab node's IP stack as the scenario states it: rules, tables, addresses, neighbours."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from netcheck.model.plan import NodeStack
from netcheck.scenario import load_plan
from tests.helpers import ROOT


def test_policy_routing_scenario_resolves_to_node_stacks() -> None:
    plan = load_plan(ROOT / "scenarios" / "faults" / "policy-routing.yaml")
    h1 = plan.lab.host("h1")
    assert not h1.stack.default_route
    (rule,) = h1.stack.rules
    assert str(rule) == "priority 100 from 10.51.0.11/32 lookup 100"
    assert rule.location is not None and rule.location.line > 0
    (table,) = h1.stack.tables
    assert table.id == 100
    assert [str(r) for r in table.routes] == ["0.0.0.0/0 via 10.51.0.1 dev eth0"]
    assert plan.lab.host("h2").stack == NodeStack(default_route=False)


def test_addresses_neighbours_and_route_src(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("""
lab:
  lans:
    a: {subnet: 10.51.0.0/24, gateway: 10.51.0.1}
  router: {}
  machines:
    m:
      lan: a
      ip: 10.51.0.10
      addresses: ["10.51.0.11/24 dev eth0", "192.0.2.53 dev lo", {address: 10.51.0.12}]
      routes: ["10.9.0.0/24 via 10.51.0.1 src 10.51.0.11"]
      neighbours: [{ip: 10.51.0.1, mac: "02:00:00:00:00:01"}]
    n: {lan: a, ip: 10.51.0.10, duplicate: allowed}
expectations:
  - {from: m, to: router, probe: icmp}
""")
    plan = load_plan(path)
    m = next(x for x in plan.lab.machines if x.name == "m")
    assert [str(a) for a in m.stack.addresses] == [
        "10.51.0.11/24 dev eth0", "192.0.2.53/32 dev lo", "10.51.0.12/32 dev eth0"]
    assert m.routes[0].src == ipaddress.ip_address("10.51.0.11")
    (n,) = m.stack.neighbours
    assert str(n) == "10.51.0.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent"
