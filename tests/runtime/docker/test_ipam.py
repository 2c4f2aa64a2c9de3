"""Pure logic of the docker runtime: IPAM pools, driver options, conflicts. No root."""

from __future__ import annotations

from netcheck.model.plan import (
    Driver,
    IpvlanMode,
    Lab,
    Lan,
    MacvlanMode,
    Network,
    Plan,
    Subnet,
)
from netcheck.runtime.docker import ipam
from tests.runtime.docker.conftest import addr, net


def _plan(*networks: Network, lans: tuple[Lan, ...] = ()) -> Plan:
    return Plan(
        name="t",
        source="t.yaml",
        description=None,
        lab=Lab(lans=lans),
        networks=networks,
        endpoints=(),
        expectations=(),
    )


def test_pools_carry_every_ipam_field() -> None:
    n = Network(
        name="pub",
        driver=Driver.MACVLAN,
        parent="eth0",
        macvlan_mode=MacvlanMode.BRIDGE,
        subnets=(
            Subnet(
                subnet=net("172.16.86.0/24"),
                gateway=addr("172.16.86.1"),
                ip_range=net("172.16.86.128/25"),
                aux_addresses={"exclude_host": addr("172.16.86.250")},
            ),
            Subnet(subnet=net("fd00:86::/64")),
        ),
    )
    assert ipam.ipam_pools(n) == [
        {
            "Subnet": "172.16.86.0/24",
            "IPRange": "172.16.86.128/25",
            "Gateway": "172.16.86.1",
            "AuxiliaryAddresses": {"exclude_host": "172.16.86.250"},
        },
        {"Subnet": "fd00:86::/64"},
    ]
    kw = ipam.create_kwargs(n, "nc-abc123-pub", "abc123")
    assert kw["enable_ipv6"] is True
    assert kw["labels"] == {"io.netcheck.run": "abc123"}
    assert kw["options"] == {"parent": "eth0", "macvlan_mode": "bridge"}
    assert "attachable" not in kw


def test_driver_options_mtu_ipvlan_and_verbatim_override() -> None:
    n = Network(
        name="l3",
        driver=Driver.IPVLAN,
        parent="eth1",
        ipvlan_mode=IpvlanMode.L3,
        mtu=1400,
        options={"com.docker.network.driver.mtu": "1300"},
    )
    assert ipam.driver_options(n) == {
        "parent": "eth1",
        "ipvlan_mode": "l3",
        "com.docker.network.driver.mtu": "1300",
    }


def test_overlay_is_attachable_and_internal_passes_through() -> None:
    n = Network(name="ovl", driver=Driver.OVERLAY, internal=True)
    kw = ipam.create_kwargs(n, "x", "abc123")
    assert kw["attachable"] is True
    assert kw["internal"] is True
    assert "ipam" not in kw  # no subnets: Docker's pool


def test_conflicts_name_the_other_network_and_its_owner() -> None:
    wanted = [Network(name="a", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("10.9.0.0/24")),))]
    existing = ipam.existing_from_api(
        [
            {
                "Name": "nc-fff000-b",
                "Driver": "bridge",
                "Labels": {"io.netcheck.run": "fff000"},
                "IPAM": {"Config": [{"Subnet": "10.9.0.128/25"}]},
            },
            {
                "Name": "mine",
                "Driver": "bridge",
                "Labels": None,
                "IPAM": {"Config": [{"Subnet": "10.0.0.0/8"}]},
            },
            {"Name": "far", "Driver": "bridge", "IPAM": {"Config": [{"Subnet": "192.168.0.0/24"}]}},
            {"Name": "none", "Driver": "null", "IPAM": {"Config": None}},
        ]
    )
    problems = ipam.find_conflicts(wanted, existing, "the daemon")
    assert len(problems) == 2
    assert "'nc-fff000-b'" in problems[0] and "netcheck run fff000" in problems[0]
    assert "'mine'" in problems[1] and "not made by netcheck" in problems[1]


def test_ipv4_never_conflicts_with_ipv6() -> None:
    wanted = [Network(name="a", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("fd00::/64")),))]
    existing = [ipam.ExistingNetwork(name="x", subnets=(net("10.0.0.0/8"),), run_id=None)]
    assert ipam.find_conflicts(wanted, existing, "d") == []


def test_lab_pools_avoid_the_plan() -> None:
    plan = _plan(
        Network(name="a", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("10.213.5.0/24")),)),
        lans=(Lan(name="l", subnet=net("10.215.0.0/16"), gateway=None),),
    )
    assert ipam.lab_pool(plan) == "10.214.0.0/16"
    assert ipam.lab_bip(plan) == "10.216.0.1/24"


def test_default_bridge_only_when_undeclared() -> None:
    assert ipam.is_default_bridge("bridge", _plan())
    declared = _plan(
        Network(name="bridge", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("10.1.0.0/24")),))
    )
    assert not ipam.is_default_bridge("bridge", declared)
    assert not ipam.is_default_bridge("lan", _plan())
