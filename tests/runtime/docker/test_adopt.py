"""Adopting existing Docker networks and containers: the rules, on recorded inspect documents
(shaped as Engine 20.10 returns them). The live behaviour is in test_adopt_live.py."""

from __future__ import annotations

import ipaddress
from typing import Any

from netcheck.errors import Location
from netcheck.model.plan import Attachment, Driver, Endpoint, MacvlanMode, Network
from netcheck.model.sites import ContainerPid
from netcheck.runtime.docker.adopt import (
    FoundNetwork,
    adopted_node,
    check_fixed_ips,
    network_from_inspect,
)

ip = ipaddress.ip_address

MACVLAN_INSPECT: dict[str, Any] = {
    "Name": "macvlan100",
    "Id": "5f1b7c0a9e3d" + "0" * 52,
    "Driver": "macvlan",
    "Internal": False,
    "Attachable": False,
    "IPAM": {"Driver": "default", "Options": {}, "Config": [{
        "Subnet": "10.20.0.0/24", "IPRange": "10.20.0.64/26", "Gateway": "10.20.0.1",
        "AuxiliaryAddresses": {"router2": "10.20.0.2"},
    }]},
    "Containers": {
        "a" * 64: {"Name": "web-1", "MacAddress": "02:42:0a:14:00:40",
                   "IPv4Address": "10.20.0.64/24", "IPv6Address": ""},
    },
    "Options": {"parent": "eth0.100", "macvlan_mode": "bridge",
                "com.docker.network.driver.mtu": "1400"},
    "Labels": {},
}


def _base() -> Network:
    return Network(name="prod", driver=None, external=True, docker_name="macvlan100",
                   location=Location(path="s.yaml", line=4))


def test_an_external_network_takes_every_fact_from_docker() -> None:
    found = network_from_inspect(_base(), MACVLAN_INSPECT)
    net = found.network
    assert (net.name, net.name_on_docker, net.external) == ("prod", "macvlan100", True)
    assert (net.driver, net.driver_name) == (Driver.MACVLAN, "macvlan")
    assert (net.parent, net.macvlan_mode, net.mtu) == ("eth0.100", MacvlanMode.BRIDGE, 1400)
    assert (net.internal, net.attachable) == (False, False)
    sub = net.subnets[0]
    assert (str(sub.subnet), sub.gateway, str(sub.ip_range)) == (
        "10.20.0.0/24", ip("10.20.0.1"), "10.20.0.64/26")
    assert sub.aux_addresses == {"router2": ip("10.20.0.2")}
    assert found.in_use == {ip("10.20.0.64"): "web-1"}
    assert found.docker_name == "macvlan100"
    assert net.location == Location(path="s.yaml", line=4)


def test_a_driver_netcheck_does_not_model_is_kept_by_name() -> None:
    doc = {"Name": "weave", "Id": "f" * 64, "Driver": "weavemesh", "IPAM": {"Config": []}}
    net = network_from_inspect(_base(), doc).network
    assert (net.driver, net.driver_name, net.subnets) == (None, "weavemesh", ())


def _ep(name: str, address: str | None, line: int) -> Endpoint:
    return Endpoint(name=name, host=None, attachments=(Attachment(
        network="prod", ip=ip(address) if address else None,
        location=Location(path="s.yaml", line=line)),))


def test_fixed_addresses_are_checked_against_the_real_network() -> None:
    found = {"prod": network_from_inspect(_base(), MACVLAN_INSPECT)}
    eps = [
        _ep("ok", "10.20.0.70", 10),
        _ep("outside", "10.21.0.5", 11),
        _ep("gateway", "10.20.0.1", 12),
        _ep("taken", "10.20.0.64", 13),
        _ep("aux", "10.20.0.2", 14),
        _ep("again", "10.20.0.70", 15),
        _ep("broadcast", "10.20.0.255", 16),
        _ep("ipam", None, 17),
    ]
    errors = {e.location.line: str(e) for e in check_fixed_ips(eps, found)}
    assert sorted(errors) == [11, 12, 13, 14, 15, 16]
    assert errors[11] == (
        "s.yaml:11: endpoints.outside.networks.prod.ip: 10.21.0.5 is not in external network "
        "'prod' (10.20.0.0/24, as Docker has it). Pick an address in the network's subnet, or "
        "leave the ip out and let Docker's IPAM choose")
    assert "is the gateway of external network 'prod'" in errors[12]
    assert "already used by container 'web-1'" in errors[13]
    assert "reserved by aux address 'router2'" in errors[14]
    assert "already given to endpoint 'ok'" in errors[15]
    assert "not a host address" in errors[16]


def test_an_existing_container_becomes_a_node_under_the_scenarios_names() -> None:
    net = network_from_inspect(_base(), MACVLAN_INSPECT)
    info: dict[str, Any] = {
        "Id": "a" * 64, "Name": "/web-1", "State": {"Status": "running", "Pid": 4242},
        "NetworkSettings": {"Networks": {
            "macvlan100": {"NetworkID": MACVLAN_INSPECT["Id"], "IPAddress": "10.20.0.64",
                           "IPPrefixLen": 24, "MacAddress": "02:42:0A:14:00:40",
                           "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0},
            "backend": {"NetworkID": "b" * 64, "IPAddress": "172.30.0.5", "IPPrefixLen": 16,
                        "MacAddress": "02:42:ac:1e:00:05"},
        }},
    }
    networks: dict[str, tuple[str, Network | None]] = {
        str(MACVLAN_INSPECT["Id"]): ("prod", net.network)}
    site = ContainerPid(container="a" * 64, pid=4242)
    ep = Endpoint(name="web", host="far", attachments=(), container="web-1")
    node = adopted_node(ep, "far", info, site, {"02:42:0a:14:00:40": "eth0"}, networks)
    by_net = {i.network: i for i in node.interfaces}
    assert set(by_net) == {"prod", "backend"}  # an unnamed network keeps its Docker name
    prod = by_net["prod"]
    assert (prod.ifname, prod.address, prod.kind, prod.parent, prod.mode) == (
        "eth0", ip("10.20.0.64"), "macvlan", "far:eth0.100", "bridge")
    assert by_net["backend"].kind == "veth" and by_net["backend"].ifname == "?"
    assert node.address_on("prod") == ip("10.20.0.64")
    assert (node.listen, node.adopted, node.site) == ((), True, site)
    assert node.resolver == ip("127.0.0.11")


def test_a_container_only_on_the_default_bridge_has_no_embedded_dns() -> None:
    info = {"Id": "c" * 64, "NetworkSettings": {"Networks": {"bridge": {
        "NetworkID": "d" * 64, "IPAddress": "172.17.0.2", "IPPrefixLen": 16}}}}
    ep = Endpoint(name="old", host=None, attachments=(), container="old")
    node = adopted_node(ep, "", info, ContainerPid(container="c", pid=1), {}, {})
    assert node.resolver is None
    assert node.host is None


def test_found_networks_carry_their_docker_identity() -> None:
    found = network_from_inspect(_base(), MACVLAN_INSPECT)
    assert isinstance(found, FoundNetwork)
    assert found.docker_id == MACVLAN_INSPECT["Id"]
