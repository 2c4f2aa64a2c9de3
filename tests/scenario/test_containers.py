"""Per-container details: dns, dns_search, depends_on, mtu, mac_address."""

from __future__ import annotations

import ipaddress

import pytest

from netcheck.model.plan import Attachment, Endpoint, start_waves
from netcheck.scenario.containers import parse_domain, parse_unicast_mac
from netcheck.scenario.values import ValueProblem
from tests.scenario.conftest import Load

SCENARIO = """
networks:
  app: {subnets: [{subnet: 172.30.9.0/24}], mtu: 1450}
  back: {subnets: [{subnet: 172.30.10.0/24}]}
endpoints:
  web:
    networks: {app: {}, back: {mac_address: "02:00:00:00:00:0B", mtu: 1400}}
    dns: 172.30.9.53
    dns_search: Lab.Example.
    mac_address: 02:00:00:00:00:0a
    mtu: 1300
    depends_on: db
  db:
    networks: [app]
    dns: [172.30.9.53, "fd00::53"]
    dns_search: [a.example, b.example]
expectations:
  - {from: web, to: db, probe: icmp}
"""


def test_the_details_reach_the_plan(load: Load) -> None:
    plan = load(SCENARIO)
    web, db = plan.endpoint("web"), plan.endpoint("db")
    assert web.dns == (ipaddress.ip_address("172.30.9.53"),)
    assert web.dns_search == ("lab.example",)
    assert db.dns == (ipaddress.ip_address("172.30.9.53"), ipaddress.ip_address("fd00::53"))
    assert db.dns_search == ("a.example", "b.example")
    assert web.depends_on == ("db",)
    app, back = web.attachments
    # The endpoint's MAC is the first network's (docker run --mac-address); its mtu is
    # every network's without one of its own.
    assert (app.mac, app.mtu) == ("02:00:00:00:00:0a", 1300)
    assert (back.mac, back.mtu) == ("02:00:00:00:00:0b", 1400)
    assert db.attachments[0].mac is None and db.attachments[0].mtu is None


def test_nothing_written_means_nothing_changes(load: Load) -> None:
    plan = load("""
networks:
  app: {subnets: [{subnet: 172.30.9.0/24}]}
endpoints:
  a: {networks: [app]}
  b: {networks: [app]}
expectations:
  - {from: a, to: b, probe: icmp}
""")
    for ep in plan.endpoints:
        assert (ep.dns, ep.dns_search, ep.depends_on) == ((), (), ())
        assert all(a.mac is None and a.mtu is None for a in ep.attachments)
    assert [[e.name for e in w] for w in start_waves(plan.endpoints)] == [["a", "b"]]


def test_two_macs_for_one_network_are_refused(load: Load) -> None:
    with pytest.raises(Exception, match="gives its first network two MACs"):
        load("""
networks:
  app: {subnets: [{subnet: 172.30.9.0/24}]}
endpoints:
  a:
    networks: {app: {mac_address: "02:00:00:00:00:01"}}
    mac_address: 02:00:00:00:00:02
  b: {networks: [app]}
expectations:
  - {from: a, to: b, probe: icmp}
""")


def test_one_mac_on_two_hosts_bridge_networks_is_no_clash(load: Load) -> None:
    plan = load("""
lab:
  lans: {lan: {subnet: 10.61.0.0/24}}
  hosts:
    h1: {uplinks: [{ifname: eth1, lan: lan, ip: 10.61.0.2}]}
    h2: {uplinks: [{ifname: eth1, lan: lan, ip: 10.61.0.3}]}
networks:
  app: {subnets: [{subnet: 172.30.9.0/24}]}
endpoints:
  a: {host: h1, networks: [app], mac_address: "02:00:00:00:00:01"}
  b: {host: h2, networks: [app], mac_address: "02:00:00:00:00:01"}
expectations:
  - {from: a, to: h2, probe: icmp}
""")
    assert plan.endpoint("b").attachments[0].mac == "02:00:00:00:00:01"


def test_an_existing_container_takes_none_of_them(load: Load) -> None:
    with pytest.raises(Exception, match="never changes a container it did not create"):
        load("""
endpoints:
  old: {container: web-1, dns: 10.0.0.53}
expectations:
  - {from: old, to: 10.0.0.1, probe: icmp}
""")


def test_values() -> None:
    assert parse_domain("Corp.Example.") == "corp.example"
    assert parse_unicast_mac("02:AA:00:00:00:01") == "02:aa:00:00:00:01"
    for bad in ("-x.example", "a..b", "a b", ""):
        with pytest.raises(ValueProblem):
            parse_domain(bad)
    for bad in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "02:00:00:00:00"):
        with pytest.raises(ValueProblem):
            parse_unicast_mac(bad)


def ep(name: str, *deps: str) -> Endpoint:
    return Endpoint(name=name, host=None, attachments=(Attachment(network="n"),),
                    depends_on=deps)


def test_start_waves_follow_depends_on_and_keep_file_order() -> None:
    eps = [ep("c", "b"), ep("a"), ep("b", "a"), ep("d"), ep("e", "a", "gone")]
    waves = [[e.name for e in w] for w in start_waves(eps)]
    assert waves == [["a", "d"], ["b", "e"], ["c"]]
    # A cycle (validation refuses it) still ends: its members come last.
    cyc = [ep("x", "y"), ep("y", "x"), ep("z")]
    assert [[e.name for e in w] for w in start_waves(cyc)] == [["z"], ["x", "y"]]
