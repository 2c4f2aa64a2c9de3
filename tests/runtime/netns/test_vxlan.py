"""The netlink request for a raw VXLAN device (pure; the build itself runs in
tests/scenarios with scenarios/multihost/vxlan-*.yaml)."""

from __future__ import annotations

import ipaddress

from netcheck.model.plan import Vxlan
from netcheck.runtime.netns.vxlan import link_args

ip = ipaddress.ip_address


def test_an_ipv4_device_asks_for_id_remote_local_port_and_dev() -> None:
    vx = Vxlan(name="vx42", vni=42, remote=ip("10.71.0.12"), remote_host="a2", dev="eth0")
    assert link_args(vx, dev_index=3, local=ip("10.71.0.11")) == {
        "ifname": "vx42", "kind": "vxlan", "vxlan_id": 42, "vxlan_link": 3,
        "vxlan_group": "10.71.0.12", "vxlan_local": "10.71.0.11", "vxlan_port": 4789,
        "vxlan_learning": 1,
    }


def test_an_ipv6_underlay_uses_the_v6_attributes_and_the_mtu_is_passed_when_given() -> None:
    vx = Vxlan(name="vx7", vni=7, remote=ip("fd00::2"), remote_host=None, port=8472, mtu=1400)
    got = link_args(vx, dev_index=5, local=ip("fd00::1"))
    assert got["vxlan_group6"] == "fd00::2" and got["vxlan_local6"] == "fd00::1"
    assert "vxlan_group" not in got and (got["vxlan_port"], got["mtu"]) == (8472, 1400)
