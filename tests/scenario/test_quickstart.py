"""scenarios/quickstart.yaml loads into the plan the rest of netcheck expects."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from netcheck.model.plan import Driver, MacvlanMode, NodeKind, Plan, ProbeKind
from netcheck.scenario import load_plan

QUICKSTART = Path(__file__).parents[2] / "scenarios" / "quickstart.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(QUICKSTART)


def test_names_and_defaults(plan: Plan) -> None:
    assert plan.name == "quickstart"
    assert plan.source == str(QUICKSTART)
    assert plan.description and "macvlan" in plan.description
    assert plan.runtime is None
    assert plan.variables == {"PARENT": "eth0"}


def test_lab(plan: Plan) -> None:
    lan = plan.lab.lan("lan")
    assert lan.subnet == ipaddress.ip_network("172.16.86.0/24")
    assert lan.gateway == ipaddress.ip_address("172.16.86.1")
    assert plan.lab.router is not None and plan.lab.router.name == "router"
    assert plan.lab.router.forward is True
    (nas,) = plan.lab.machines
    assert (nas.name, nas.lan, str(nas.ip)) == ("nas", "lan", "172.16.86.20")
    assert [str(p) for p in nas.listen] == ["tcp/445"]
    host = plan.lab.host("host1")
    assert [(u.ifname, u.lan, str(u.ip)) for u in host.uplinks] == [
        ("eth0", "lan", "172.16.86.250")
    ]


def test_network(plan: Plan) -> None:
    net = plan.network("pub_net")
    assert net.driver is Driver.MACVLAN
    assert net.parent == "eth0"  # ${PARENT} from variables:
    assert net.macvlan_mode is MacvlanMode.BRIDGE
    assert net.ipvlan_mode is None
    (sub,) = net.subnets
    assert sub.ip_range == ipaddress.ip_network("172.16.86.128/25")
    assert dict(sub.aux_addresses) == {"exclude_host": ipaddress.ip_address("172.16.86.250")}


def test_endpoints(plan: Plan) -> None:
    c1, c2 = plan.endpoints
    assert c1.host == c2.host == "host1"
    assert c1.attachments[0].ip == ipaddress.ip_address("172.16.86.10")
    assert c2.attachments[0].network == "pub_net"
    assert c2.attachments[0].ip is None  # allocated by IPAM at run time
    assert [str(p) for p in c2.listen] == ["tcp/80"]
    assert plan.node_kind("c1") is NodeKind.ENDPOINT
    assert plan.node_kind("router") is NodeKind.ROUTER


def test_expectations(plan: Plan) -> None:
    ids = [e.id for e in plan.expectations]
    assert len(ids) >= 12
    assert len(set(ids)) == len(ids)
    assert ids[:6] == [
        "arp:c1->c2", "arp:c2->c1", "icmp:c1->c2", "icmp:c2->c1", "tcp/80:c1->c2", "tcp/80:c2->c1",
    ]
    assert {"icmp:c1->router", "icmp:c2->nas", "tcp/445:c1->nas"} <= set(ids)
    isolation = [e for e in plan.expectations if e.target.node == "host1"]
    assert {e.id for e in isolation} == {"icmp:c1->host1", "icmp:c2->host1"}
    assert all(not e.reachable and e.reason == "macvlan-host-isolation" for e in isolation)
    assert all(e.reachable and e.reason is None for e in plan.expectations if e not in isolation)
    tcp = next(e for e in plan.expectations if e.id == "tcp/445:c2->nas")
    assert tcp.probe.kind is ProbeKind.TCP and tcp.probe.port == 445


def test_every_object_has_a_location(plan: Plan) -> None:
    located: list[Any] = [*plan.lab.lans, *plan.lab.machines, *plan.lab.hosts, *plan.networks,
               *plan.endpoints, *plan.expectations]
    assert plan.lab.router is not None
    located.append(plan.lab.router)
    for obj in located:
        assert obj.location is not None and obj.location.line > 0, obj
        assert obj.location.path == str(QUICKSTART)
    by_id = {e.id: e for e in plan.expectations}
    text = QUICKSTART.read_text().splitlines()
    line = by_id["icmp:c1->host1"].location
    assert line is not None
    assert text[line.line - 1].strip().startswith("- from:")


def test_overrides_win(plan: Plan) -> None:
    other = load_plan(QUICKSTART, {"PARENT": "ens33"})
    assert other.network("pub_net").parent == "ens33"
    assert other.lab.host("host1").uplinks[0].ifname == "ens33"
    assert other.variables["PARENT"] == "ens33"
