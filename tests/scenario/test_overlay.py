"""lab.hosts.<h>.vxlan: what validate resolves, and each mistake refused with its line."""

from __future__ import annotations

import ipaddress

from tests.scenario.conftest import Fail, Load

BASE = """
lab:
  lans:
    underlay: {{subnet: 10.71.0.0/24}}
    other: {{subnet: 10.72.0.0/24}}
  hosts:
    h1:
      uplinks:
        - {{ifname: eth0, lan: underlay, ip: 10.71.0.11}}
        - {{ifname: eth1, lan: other, ip: 10.72.0.11}}
      vxlan:
        vx42: {vx}
    h2:
      uplinks: [{{ifname: eth0, lan: other, ip: 10.72.0.12}}]
networks:
  ovl: {{subnets: [{{subnet: 192.168.71.0/24}}]}}
  mv: {{driver: macvlan, parent: eth0, subnets: [{{subnet: 10.71.0.0/24}}]}}
endpoints:
  c1: {{host: h1, networks: [ovl]}}
  c2: {{host: h2, networks: [ovl]}}
expectations:
  - {{from: c1, to: c2, probe: icmp}}
"""


def scenario(vx: str) -> str:
    return BASE.format(vx=vx)


def test_a_remote_by_name_takes_its_address_on_a_shared_lan_and_the_dev_follows(
    load: Load,
) -> None:
    plan = load(scenario("{vni: 42, remote: h2, master: ovl}"))
    (vx,) = plan.lab.host("h1").vxlans
    assert vx.remote == ipaddress.ip_address("10.72.0.12")
    assert vx.remote_host == "h2"
    assert vx.dev == "eth1"  # the uplink on the remote's LAN, not the first one
    assert (vx.vni, vx.port, vx.mtu, vx.local, vx.master) == (42, 4789, None, None, "ovl")
    assert vx.location is not None and vx.location.line == 11


def test_every_option_reads_as_written(load: Load) -> None:
    plan = load(scenario("{vni: 7, remote: 10.72.0.12, local: 10.71.0.11, dev: eth0, "
                         "port: 8472, mtu: 1400}"))
    (vx,) = plan.lab.host("h1").vxlans
    assert (vx.vni, vx.port, vx.mtu, vx.dev, str(vx.local), vx.master) == (
        7, 8472, 1400, "eth0", "10.71.0.11", None)


def test_a_remote_that_is_no_lab_host_is_refused_with_the_hosts_named(fail: Fail) -> None:
    err = fail(scenario("{vni: 42, remote: h3}"))
    assert "vxlan remote 'h3' is no lab host" in str(err)
    assert "h2" in str(err)  # the hint names what would do
    err = fail(scenario("{vni: 42, remote: 10.72.0.99}"))
    assert "vxlan remote 10.72.0.99 is no lab host's address" in str(err)
    assert "h2 10.72.0.12" in str(err)


def test_a_host_cannot_be_its_own_remote(fail: Fail) -> None:
    assert "is this host itself" in str(fail(scenario("{vni: 42, remote: h1}")))
    assert "this host's own address" in str(fail(scenario("{vni: 42, remote: 10.71.0.11}")))


def test_dev_local_and_master_must_exist_on_this_host(fail: Fail) -> None:
    err = fail(scenario("{vni: 42, remote: h2, dev: eth9}"))
    assert "'eth9' is not an uplink of host 'h1'" in str(err)
    err = fail(scenario("{vni: 42, remote: h2, local: 10.72.0.12}"))
    assert "10.72.0.12 is not an address of host 'h1'" in str(err)
    err = fail(scenario("{vni: 42, remote: h2, master: nope}"))
    assert "unknown network 'nope'" in str(err)
    err = fail(scenario("{vni: 42, remote: h2, master: mv}"))
    assert "only a bridge network has a bridge" in str(err)


def test_a_master_needs_a_container_of_this_host_on_it(fail: Fail) -> None:
    text = scenario("{vni: 42, remote: h2, master: ovl}").replace(
        "c1: {host: h1, networks: [ovl]}", "c1: {host: h2, networks: [ovl]}")
    assert "no endpoint on host 'h1' is on network 'ovl'" in str(fail(text))


def test_out_of_range_values_are_refused(fail: Fail) -> None:
    assert "vni" in str(fail(scenario("{vni: 16777216, remote: h2}")))
    assert "port" in str(fail(scenario("{vni: 1, remote: h2, port: 0}")))
    assert "vni" in str(fail(scenario("{vni: true, remote: h2}")))


def test_one_vni_twice_on_a_port_is_refused(fail: Fail) -> None:
    text = scenario("{vni: 42, remote: h2}").replace(
        "vx42: {vni: 42, remote: h2}", "vx42: {vni: 42, remote: h2}\n        vx43: {vni: 42, "
        "remote: h2}")
    assert "vni 42 on port 4789 is already used by vxlan 'vx42'" in str(fail(text))
