"""LANs that reuse a subnet: separate segments pass, a node with a leg on both is refused."""

from __future__ import annotations

from tests.scenario.conftest import Fail, Load

TWO_VLANS = """
lab:
  lans:
    v10: {{subnet: 192.168.50.0/24, vlan: 10{gw10}}}
    v20: {{subnet: 192.168.50.0/24, vlan: 20{gw20}}}
  {router}
  hosts:
    host1:
      uplinks:
        - {{ifname: eth0, lan: v10, ip: 192.168.50.11}}
        {second}
    host2:
      uplinks: [{{ifname: eth0, lan: v20, ip: 192.168.50.12}}]
expectations:
  - {{from: host1, to: host2, probe: icmp}}
"""


def text(*, gw10: str = "", gw20: str = "", router: str = "", second: str = "") -> str:
    return TWO_VLANS.format(gw10=gw10, gw20=gw20, router=router, second=second)


def test_two_vlans_may_reuse_one_subnet(load: Load) -> None:
    plan = load(text())
    assert [str(lan.subnet) for lan in plan.lab.lans] == ["192.168.50.0/24"] * 2


def test_a_router_with_a_leg_on_both_is_refused_with_the_line(fail: Fail) -> None:
    err = fail(text(gw10=", gateway: 192.168.50.1", gw20=", gateway: 192.168.50.2",
                    router="router: {}"))
    (e,) = [e for e in err.errors if "overlaps" in str(e)]
    assert "overlaps lan 'v10' (192.168.50.0/24) and the router 'router' has a leg on both" \
        in str(e)
    assert e.location.line == 4


def test_a_host_with_uplinks_on_both_is_refused(fail: Fail) -> None:
    err = fail(text(second="- {ifname: eth1, lan: v20, ip: 192.168.50.13}"))
    assert "host 'host1' has uplinks on both" in str(err)


def test_hairpin_is_per_uplink_and_leaves_the_lan_alone(load: Load) -> None:
    plan = load(text().replace("{ifname: eth0, lan: v10, ip: 192.168.50.11}",
                               "{ifname: eth0, lan: v10, ip: 192.168.50.11, hairpin: true}"))
    assert [u.hairpin for h in plan.lab.hosts for u in h.uplinks] == [True, False]
    assert not any(lan.hairpin for lan in plan.lab.lans)
