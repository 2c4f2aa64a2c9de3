"""The netns runtime's build and teardown pieces, each driven alone (no namespaces)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import pytest

from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Lab,
    MacvlanMode,
    Network,
    Plan,
    Subnet,
)
from netcheck.runtime.netns import nsfs
from netcheck.runtime.netns.context import BuildContext, Built
from netcheck.runtime.netns.layout import (
    assign_addresses,
    attachment_mac,
    place,
    resolve,
)
from netcheck.runtime.netns.steps import endpoints, nodes, teardown
from tests.runtime.netns.netns_plans import ep, plan, quickstart

ip = ipaddress.ip_address
net = ipaddress.ip_network


class Closing:
    def __init__(self, fail: bool = False) -> None:
        self.closed = False
        self.fail = fail

    def close(self) -> None:
        self.closed = True
        if self.fail:
            raise OSError("already gone")


def test_close_sockets_closes_all_even_when_one_fails() -> None:
    socks: dict[str, Any] = {"a": Closing(fail=True), "b": Closing()}
    kept = list(socks.values())
    teardown.close_sockets(socks)
    assert socks == {}
    assert all(s.closed for s in kept)


def test_remove_namespaces_forgets_each_and_reports_what_failed(tmp_path: Path) -> None:
    gone = tmp_path / "nc-abc-a"
    gone.touch()
    stuck = tmp_path / "nc-abc-b"
    stuck.mkdir()  # unlink of a directory fails: the removal of this one fails
    r, w = os.pipe()
    os.close(w)
    created = {str(gone): r, str(stuck): -1}
    failed = teardown.remove_namespaces(created)
    assert created == {}
    assert failed == [str(stuck)]
    assert not gone.exists()
    with pytest.raises(OSError):
        os.fstat(r)  # the fd still owned here was closed
    left = teardown.retry_removals(failed)
    assert len(left) == 1 and left[0].startswith(f"{stuck}: ")
    stuck.rmdir()
    assert teardown.retry_removals(failed) == []


def test_remove_namespaces_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "nc-abc-a"
    path.touch()
    assert nsfs.remove(str(path))
    assert teardown.remove_namespaces({str(path): -1}) == []


def test_place_says_why_an_endpoint_cannot_be_built() -> None:
    p = quickstart(2)
    placed, unavailable = place(p, frozenset({"veth", "bridge"}))
    assert placed == []
    assert set(unavailable) == {"c1", "c2"}
    assert all("macvlan" in why for why in unavailable.values())
    placed, unavailable = place(p, frozenset({"veth", "bridge", "macvlan"}))
    assert [(e.name, host) for e, host in placed] == [("c1", "host1"), ("c2", "host1")]
    assert unavailable == {}


def test_assign_addresses_keeps_fixed_ones_out_of_the_pool() -> None:
    p = quickstart(3)
    placed, _ = place(p, frozenset({"macvlan"}))
    assigned, failed = assign_addresses(p, placed)
    assert failed == {}
    assert [assigned[(name, "pub_net")][0][0] for name in ("c1", "c2", "c3")] == [
        ip("172.16.86.10"), ip("172.16.86.128"), ip("172.16.86.129")
    ]


def test_attachment_mac_second_holder_of_an_address_gets_its_own() -> None:
    bridge = Network(name="n", driver=Driver.BRIDGE,
                     subnets=(Subnet(subnet=net("10.0.0.0/24")),))
    seen: set[str] = set()
    first = attachment_mac(bridge, None, "h1", ip("10.0.0.2"), seen)
    second = attachment_mac(bridge, None, "h2", ip("10.0.0.2"), seen)
    assert first == "02:42:0a:00:00:02"
    assert second is not None and second != first and second.startswith("06:")
    passthru = Network(name="p", driver=Driver.MACVLAN, parent="eth0",
                       macvlan_mode=MacvlanMode.PASSTHRU,
                       subnets=(Subnet(subnet=net("10.1.0.0/24")),))
    assert attachment_mac(passthru, "passthru", "h1", ip("10.1.0.2"), seen) is None


def test_endpoint_routes_take_the_first_gateway_of_each_family() -> None:
    p = plan(lab=quickstart(1).lab, networks=quickstart(1).networks,
             endpoints=[ep("c1", None, ("pub_net", None))])
    layout = resolve(p, {"macvlan"})
    built = Built()
    endpoints.endpoint_routes(built, layout.endpoints[0])
    assert built.routes == {"c1": [ip("172.16.86.1")]}


class Routes:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def route(self, command: str, **kw: Any) -> None:
        self.calls.append({"command": command, **kw})


def test_default_routes_add_one_route_per_gateway_and_family() -> None:
    ctx = BuildContext("abc123", "/nonexistent")
    sock = Routes()
    ctx.ipr = {"m1": sock}
    built = Built()
    built.routes["m1"] = [ip("10.0.0.1"), ip("fd00::1")]
    layout = resolve(plan(lab=quickstart(1).lab), ())
    nodes.default_routes(ctx, plan(lab=quickstart(1).lab), layout, built)
    assert sock.calls == [
        {"command": "add", "dst": "0.0.0.0/0", "gateway": "10.0.0.1"},
        {"command": "add", "dst": "::/0", "gateway": "fd00::1"},
    ]
    assert ctx.step == "adding default route via fd00::1 in m1"


class Msg:
    def __init__(self, attrs: dict[str, Any], nested: Any = None) -> None:
        self.attrs = attrs
        self.nested = nested

    def get_attr(self, name: str) -> Any:
        return self.attrs.get(name)

    def get_nested(self, *names: str) -> Any:
        return self.nested


class Links:
    def __init__(self, links: list[Msg], ports: list[Msg]) -> None:
        self.links = links
        self.ports = ports

    def get_links(self) -> list[Msg]:
        return self.links

    def brport(self, command: str) -> list[Msg]:
        assert command == "dump"
        return self.ports


def test_link_readiness_names_what_is_not_up_or_not_forwarding() -> None:
    from netcheck.runtime.netns.steps.ready import BRPORT_FORWARDING, link_readiness

    sock = Links(
        [Msg({"IFLA_IFNAME": "lo", "IFLA_ADDRESS": "00:00:00:00:00:00",
              "IFLA_OPERSTATE": "UNKNOWN"}),
         Msg({"IFLA_IFNAME": "eth0", "IFLA_ADDRESS": "02:42:0a:00:00:02",
              "IFLA_OPERSTATE": "UP"}),
         Msg({"IFLA_IFNAME": "eth1", "IFLA_ADDRESS": "02:42:0a:00:00:03",
              "IFLA_OPERSTATE": "LOWERLAYERDOWN"})],
        [Msg({"IFLA_IFNAME": "p1"}, nested=1), Msg({"IFLA_IFNAME": "p2"},
                                                    nested=BRPORT_FORWARDING)],
    )
    seen, waiting = link_readiness(sock, bridges=False)
    assert seen["eth0"] == "02:42:0a:00:00:02" and set(seen) == {"lo", "eth0", "eth1"}
    assert waiting == ["eth1 LOWERLAYERDOWN"]
    _, waiting = link_readiness(sock, bridges=True)
    assert waiting == ["eth1 LOWERLAYERDOWN", "port p1 state 1"]


def test_layout_serves_ipam_in_start_order_and_keeps_the_containers_mac_and_mtu() -> None:
    bridge = Network(name="app", driver=Driver.BRIDGE, mtu=1450,
                     subnets=(Subnet(subnet=net("10.9.0.0/24"), ip_range=net("10.9.0.8/29")),))
    eps = (
        Endpoint(name="c", host=None, attachments=(Attachment(network="app"),),
                 depends_on=("b",)),
        Endpoint(name="b", host=None, attachments=(Attachment(network="app"),),
                 depends_on=("a",)),
        Endpoint(name="a", host=None, attachments=(
            Attachment(network="app", mac="02:42:aa:00:00:01", mtu=1400),)),
    )
    layout = resolve(Plan(name="t", source="t", description=None, lab=Lab(),
                          networks=(bridge,), endpoints=eps, expectations=()), ())
    specs = {s.name: s.attachments[0] for s in layout.endpoints}
    assert [str(specs[n].address) for n in "abc"] == ["10.9.0.8", "10.9.0.9", "10.9.0.10"]
    assert (specs["a"].mac, specs["a"].mtu, specs["a"].network_mtu) == (
        "02:42:aa:00:00:01", 1400, 1450)
    # Nothing written: the network's MTU and Docker's MAC from the address.
    assert (specs["b"].mac, specs["b"].mtu) == ("02:42:0a:09:00:09", 1450)
