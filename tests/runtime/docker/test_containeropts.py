"""The container options as they reach Docker's API (a recording stand-in: pure logic)."""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

import pytest

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Attachment, Endpoint, Plan, start_waves
from netcheck.runtime.docker import containeropts

EMBEDDED = ipaddress.ip_address("127.0.0.11")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return {"Id": "cid"}
        return call


def endpoint(**kw: Any) -> Endpoint:
    atts = (Attachment(network="app", mac="02:00:00:00:00:01"),
            Attachment(network="back", mac="02:00:00:00:00:02"), Attachment(network="x"))
    return Endpoint(name="web", host=None, attachments=atts, **kw)


def api_for(ep: Endpoint) -> tuple[Recorder, containeropts.ContainerApi]:
    rec = Recorder()
    return rec, containeropts.ContainerApi(rec, ep, lambda n: f"nc-run-{n}")


def test_dns_and_search_go_to_the_host_config() -> None:
    ep = endpoint(dns=(ipaddress.ip_address("10.0.0.53"), ipaddress.ip_address("fd00::53")),
                  dns_search=("lab.example",))
    rec, api = api_for(ep)
    api.create_host_config(network_mode="nc-run-app")
    assert rec.calls == [("create_host_config", (), {
        "network_mode": "nc-run-app", "dns": ["10.0.0.53", "fd00::53"],
        "dns_search": ["lab.example"]})]
    rec, api = api_for(endpoint())
    api.create_host_config(network_mode="nc-run-app")
    assert rec.calls[0][2] == {"network_mode": "nc-run-app"}  # nothing written, nothing added


def test_each_network_gets_its_mac_and_the_first_one_also_the_top_level() -> None:
    rec, api = api_for(endpoint())
    api.create_container("img", mac_address="0a:11:22:33:44:55", networking_config={
        "EndpointsConfig": {"nc-run-app": {"Aliases": ["web"]}}})
    kwargs = rec.calls[0][2]
    assert kwargs["networking_config"]["EndpointsConfig"]["nc-run-app"] == {
        "Aliases": ["web"], "MacAddress": "02:00:00:00:00:01"}
    assert kwargs["mac_address"] == "02:00:00:00:00:01"  # not the lab's own MAC
    api.connect_container_to_network("cid", "nc-run-back", aliases=["web"])
    api.connect_container_to_network("cid", "nc-run-x", aliases=["web"])
    assert rec.calls[1][2] == {"aliases": ["web"], "mac_address": "02:00:00:00:00:02"}
    assert rec.calls[2][2] == {"aliases": ["web"]}


def test_without_a_mac_the_lab_mac_is_left_alone() -> None:
    ep = Endpoint(name="web", host=None, attachments=(Attachment(network="app"),))
    rec, api = api_for(ep)
    api.create_container("img", mac_address="0a:11:22:33:44:55", networking_config={
        "EndpointsConfig": {"nc-run-app": {}}})
    assert rec.calls[0][2]["mac_address"] == "0a:11:22:33:44:55"
    assert rec.calls[0][2]["networking_config"]["EndpointsConfig"]["nc-run-app"] == {}


def test_start_without_mtu_touches_nothing_else() -> None:
    rec, api = api_for(endpoint())
    api.start("cid")
    assert [c[0] for c in rec.calls] == ["start"]


def test_interfaces_are_found_by_their_mac() -> None:
    info = {"NetworkSettings": {"Networks": {
        "nc-run-app": {"MacAddress": "02:AA:00:00:00:01"}, "nc-run-b": {"MacAddress": ""}}}}
    assert containeropts.interface_mtus(info, {"nc-run-app": 1400}) == {
        "02:aa:00:00:00:01": 1400}
    with pytest.raises(RuntimeBuildError, match="no MAC"):
        containeropts.interface_mtus(info, {"nc-run-b": 1400})


def test_a_container_elsewhere_is_refused_by_name() -> None:
    with pytest.raises(RuntimeBuildError, match="not running"):
        containeropts.set_mtus("web", 0, {"02:00:00:00:00:01": 1400})
    with pytest.raises(RuntimeBuildError, match="does not run on this machine"):
        containeropts.set_mtus("web", 2**22 + 12345, {"02:00:00:00:00:01": 1400})


def plan_with(ep: Endpoint) -> Plan:
    from netcheck.model.plan import Lab

    return Plan(name="p", source="p.yaml", description=None, lab=Lab(), networks=(),
                endpoints=(ep,), expectations=())


def test_the_resolver_is_dns_only_where_docker_writes_it_into_resolv_conf() -> None:
    dns = (ipaddress.ip_address("10.0.0.53"),)
    on_bridge = Endpoint(name="a", host=None, attachments=(Attachment(network="bridge"),),
                         dns=dns)
    assert containeropts.resolver(plan_with(on_bridge), on_bridge, EMBEDDED) == dns[0]
    user = Endpoint(name="a", host=None, attachments=(Attachment(network="app"),), dns=dns)
    assert containeropts.resolver(plan_with(user), user, EMBEDDED) == EMBEDDED
    plain = Endpoint(name="a", host=None, attachments=(Attachment(network="bridge"),))
    assert containeropts.resolver(plan_with(plain), plain, EMBEDDED) == EMBEDDED


def test_waves_start_in_order_each_after_the_one_before() -> None:
    def ep(name: str, *deps: str) -> Endpoint:
        return Endpoint(name=name, host=None, attachments=(), depends_on=deps)

    eps = [ep("c", "b"), ep("a"), ep("b", "a"), ep("d")]
    started: list[str] = []
    lock = threading.Lock()

    def start(e: Endpoint) -> str:
        with lock:
            # Every dependency runs before this one starts.
            assert all(d in started for d in e.depends_on), (e.name, started)
            started.append(e.name)
        return e.name

    got = containeropts.run_in_order(start, eps)
    assert sorted(got[:2]) == ["a", "d"] and got[2:] == ["b", "c"]
    assert len(start_waves(eps)) == 3


def test_mtu_through_a_remote_daemon_is_refused_before_anything_is_entered() -> None:
    ep = Endpoint(name="web", host=None, attachments=(Attachment(network="app", mtu=1400),))
    rec, api = api_for(ep)
    rec.base_url = "http+docker://ssh"  # type: ignore[attr-defined]
    with pytest.raises(RuntimeBuildError, match="does not run on this machine"):
        api.start("cid")
    assert [c[0] for c in rec.calls] == ["start"]  # no inspect, no namespace entered
