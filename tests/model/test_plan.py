"""The plan's own types: a probe kind is a word of the kinds' registry; the lab nodes'
features are written once."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import pickle

import pytest

from netcheck.model.plan import (
    FirewallAction,
    FirewallRule,
    Host,
    Machine,
    NodeFeatures,
    NodeStack,
    Port,
    ProbeKind,
    ProbeSpec,
    Route,
    Router,
)


def test_a_probe_kind_is_one_object_per_word() -> None:
    tcp = ProbeKind("tcp")
    assert tcp is ProbeKind.TCP and tcp == "tcp" and isinstance(tcp, str)
    assert pickle.loads(pickle.dumps(tcp)) is tcp  # to a probe worker and back
    assert copy.deepcopy(tcp) is tcp
    assert ProbeKind("hop") is ProbeKind("hop")  # any word: the registry says which exist
    assert tcp.value == "tcp" and type(tcp.value) is str
    assert (str(tcp), f"{tcp}", repr(tcp)) == ("tcp", "tcp", "ProbeKind('tcp')")
    assert {tcp: 1}["tcp"] == 1  # hashes as its word


@pytest.mark.parametrize("word", ["", "TCP", "tcp/80", "1tcp", "t cp"])
def test_a_probe_kind_is_a_plain_word(word: str) -> None:
    with pytest.raises(ValueError, match="is not a probe kind word"):
        ProbeKind(word)


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (ProbeSpec(kind=ProbeKind.ARP), "arp"),
        (ProbeSpec(kind=ProbeKind.ICMP), "icmp"),
        (ProbeSpec(kind=ProbeKind.ICMP, size=1400), "icmp/df/1400"),
        (ProbeSpec(kind=ProbeKind.TCP, port=80), "tcp/80"),
        (ProbeSpec(kind=ProbeKind.UDP, port=53), "udp/53"),
        (ProbeSpec(kind=ProbeKind.DNS, qname="c2"), "dns/c2"),
        (ProbeSpec(kind=ProbeKind("hop"), port=7), "hop/7"),
    ],
)
def test_a_probe_is_written_as_the_scenario_writes_it(spec: ProbeSpec, text: str) -> None:
    assert str(spec) == text


def test_ports_and_rules_name_their_protocol_by_its_word() -> None:
    assert str(Port(proto=ProbeKind.UDP, number=53)) == "udp/53"
    rule = FirewallRule(action=FirewallAction.DROP, proto=ProbeKind.TCP, port=5432, peer="a")
    assert str(rule) == "drop: tcp/5432 from a"


def test_router_machine_and_host_share_one_set_of_node_features() -> None:
    shared = {f.name for f in dataclasses.fields(NodeFeatures)}
    assert shared == {"sysctls", "sysctl_locations", "routes", "firewall", "stack"}
    route = Route(dst=ipaddress.ip_network("10.9.0.0/16"), via=ipaddress.ip_address("10.0.0.1"))
    features = {"sysctls": {"net.ipv4.ip_forward": "1"}, "routes": (route,),
                "stack": NodeStack(default_route=False)}
    nodes = [
        Router(**features),  # type: ignore[arg-type]
        Machine(name="m", lan="lan", ip=ipaddress.ip_address("10.0.0.5"), **features),  # type: ignore[arg-type]
        Host(name="h", **features),  # type: ignore[arg-type]
    ]
    for node in nodes:
        assert isinstance(node, NodeFeatures)
        assert node.routes == (route,) and node.sysctls == {"net.ipv4.ip_forward": "1"}
        assert node.stack.default_route is False and node.firewall == ()
