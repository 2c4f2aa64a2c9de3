"""The docker runtime on the machine's own daemon (real-host mode): bridge networks only,
never a parent on the real uplink."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Attachment, Driver, Endpoint, Lab, Network, Plan, Subnet
from netcheck.runtime.base import RuntimeOptions, registered
from netcheck.runtime.docker import DockerRuntime, clean_docker, docker_available
from netcheck.runtime.docker.uplink import default_route_links
from tests.runtime.docker.conftest import addr, dns_query, labelled, net, ping

pytestmark = [pytest.mark.docker, pytest.mark.privileged]


def run_id() -> str:
    return secrets.token_hex(3)


def plan(networks: tuple[Network, ...], endpoints: tuple[Endpoint, ...]) -> Plan:
    return Plan(
        name="t",
        source="t.yaml",
        description=None,
        lab=Lab(),
        networks=networks,
        endpoints=endpoints,
        expectations=(),
    )


def bridge(name: str, subnet: str, **kw: Any) -> Network:
    return Network(name=name, driver=Driver.BRIDGE, subnets=(Subnet(subnet=net(subnet), **kw),))


def ep(name: str, *attachments: Attachment) -> Endpoint:
    return Endpoint(name=name, host=None, attachments=attachments)


@pytest.fixture
def runtime(docker_client: Any) -> Iterator[DockerRuntime]:
    rt = DockerRuntime(RuntimeOptions(run_id=run_id()))
    yield rt
    rt.teardown()
    assert labelled(docker_client, rt.run_id) == []


def test_registered_and_available(docker_client: Any) -> None:
    assert registered()["docker"] is DockerRuntime
    assert docker_available(None)
    assert not docker_available("unix:///nonexistent/docker.sock")


def test_user_bridge_resolves_names_and_aliases_default_bridge_does_not(
    runtime: DockerRuntime, docker_client: Any
) -> None:
    p = plan(
        (bridge("dnsnet", "10.250.1.0/24", ip_range=net("10.250.1.128/25")),),
        (
            ep("c1", Attachment(network="dnsnet", ip=addr("10.250.1.10"), aliases=("web",))),
            ep("c2", Attachment(network="dnsnet")),
            ep("c3", Attachment(network="bridge")),
            ep("c4", Attachment(network="bridge")),
        ),
    )
    built = runtime.build(p, lambda _: None)
    nodes = built.topology.nodes
    c1, c2, c3 = nodes["c1"], nodes["c2"], nodes["c3"]
    assert c1.address_on("dnsnet") == addr("10.250.1.10")
    # Engine 20.10 with no gateway given takes the ip_range's first address as the gateway.
    gw = built.topology.facts["network.dnsnet.gateway"]
    assert c2.address_on("dnsnet") in net("10.250.1.128/25")
    assert "network.dnsnet.gateway.note" in built.topology.facts
    assert gw != str(c2.address_on("dnsnet"))
    assert dns_query(c2.netns, "c1") == ["10.250.1.10"]
    assert dns_query(c2.netns, "web") == ["10.250.1.10"]
    assert ping(c2.netns, "10.250.1.10")
    # The default bridge has no embedded DNS: nobody answers on 127.0.0.11.
    assert dns_query(c3.netns, "c4") is None
    assert ping(c3.netns, nodes["c4"].address_on("bridge"))
    iface = c1.interfaces[0]
    assert iface.ifname == "eth0" and iface.mac and iface.prefix == net("10.250.1.0/24")
    assert built.topology.facts["docker.server_version"]
    docker = built.topology.docker
    assert docker is not None and docker.mode == "host"
    assert docker.server_version == built.topology.facts["docker.server_version"]


def test_several_networks_dual_stack_and_internal(
    runtime: DockerRuntime, docker_client: Any
) -> None:
    dual = Network(
        name="dual",
        driver=Driver.BRIDGE,
        subnets=(Subnet(subnet=net("10.250.3.0/24")), Subnet(subnet=net("fd00:250:3::/64"))),
    )
    inside = Network(
        name="inside",
        driver=Driver.BRIDGE,
        internal=True,
        subnets=(Subnet(subnet=net("10.250.4.0/24"), gateway=addr("10.250.4.1")),),
    )
    p = plan(
        (dual, inside),
        (
            ep(
                "c1",
                Attachment(network="dual"),
                Attachment(network="inside", ip=addr("10.250.4.9")),
            ),
            ep("c2", Attachment(network="inside")),
        ),
    )
    nodes = runtime.build(p, lambda _: None).topology.nodes
    c1, c2 = nodes["c1"], nodes["c2"]
    v6 = [
        i.address
        for i in c1.interfaces
        if i.network == "dual" and i.address and i.address.version == 6
    ]
    assert v6 and v6[0] in net("fd00:250:3::/64")
    assert {i.ifname for i in c1.interfaces} == {"eth0", "eth1"}
    assert c1.address_on("inside") == addr("10.250.4.9")
    assert ping(c2.netns, "10.250.4.9")
    assert ping(c1.netns, v6[0])
    # "Cannot reach outside" is proved in the lab (test_lab.py), where outside is ours too.
    assert docker_client.networks.get(f"nc-{runtime.run_id}-inside").attrs["Internal"] is True


def test_overlapping_subnet_is_refused_before_anything_is_built(docker_client: Any) -> None:
    first = DockerRuntime(RuntimeOptions(run_id=run_id()))
    second = DockerRuntime(RuntimeOptions(run_id=run_id()))
    user = docker_client.networks.create(
        "nctest-user",
        driver="bridge",
        ipam={"Driver": "default", "Config": [{"Subnet": "10.250.20.0/24"}]},
    )
    try:
        first.build(
            plan((bridge("a", "10.250.10.0/24"),), (ep("c1", Attachment(network="a")),)),
            lambda _: None,
        )
        with pytest.raises(RuntimeBuildError) as err:
            second.build(
                plan(
                    (
                        bridge("ok", "10.250.30.0/24"),
                        bridge("b", "10.250.10.128/25"),
                        bridge("c", "10.250.20.0/25"),
                    ),
                    (ep("c1", Attachment(network="ok")),),
                ),
                lambda _: None,
            )
        text = str(err.value)
        assert f"nc-{first.run_id}-a" in text and f"netcheck run {first.run_id}" in text
        assert "'nctest-user'" in text and "not made by netcheck" in text
        assert labelled(docker_client, second.run_id) == []
    finally:
        first.teardown()
        second.teardown()
        user.remove()


def test_docker_refusal_tears_down_what_was_built(docker_client: Any) -> None:
    rt = DockerRuntime(RuntimeOptions(run_id=run_id()))
    bad = Network(
        name="bad",
        driver=Driver.MACVLAN,
        parent="nctest-nope0",
        subnets=(Subnet(subnet=net("10.250.41.0/24")),),
    )
    p = plan((bridge("good", "10.250.40.0/24"), bad), (ep("c1", Attachment(network="good")),))
    with pytest.raises(RuntimeBuildError, match="nctest-nope0"):
        rt.build(p, lambda _: None)
    assert labelled(docker_client, rt.run_id) == []
    rt.teardown()  # idempotent after a failed build


def test_parent_on_the_default_route_is_refused(docker_client: Any) -> None:
    uplinks = default_route_links()
    if not uplinks:
        pytest.skip("this machine has no default route")
    parent = sorted(uplinks)[0]
    rt = DockerRuntime(RuntimeOptions(run_id=run_id()))
    p = plan(
        (
            Network(
                name="pub",
                driver=Driver.MACVLAN,
                parent=parent,
                subnets=(Subnet(subnet=net("10.250.50.0/24")),),
            ),
        ),
        (ep("c1", Attachment(network="pub")),),
    )
    with pytest.raises(RuntimeBuildError, match="default route"):
        rt.build(p, lambda _: None)
    assert labelled(docker_client, rt.run_id) == []


def test_ipvlan_endpoints_are_unavailable_with_the_kernel_reason(runtime: DockerRuntime) -> None:
    from netcheck.runtime.docker.kernel import ipvlan_missing

    if ipvlan_missing(runtime.run_id) is None:
        pytest.skip("this kernel has ipvlan")
    p = plan(
        (
            Network(
                name="l2",
                driver=Driver.IPVLAN,
                parent="nctest-x0",
                subnets=(Subnet(subnet=net("10.250.60.0/24")),),
            ),
            bridge("plain", "10.250.61.0/24"),
        ),
        (ep("c1", Attachment(network="l2")), ep("c2", Attachment(network="plain"))),
    )
    built = runtime.build(p, lambda _: None)
    assert "kernel lacks ipvlan" in built.unavailable["c1"]
    assert "c1" not in built.topology.nodes and "c2" in built.topology.nodes


def test_clean_removes_only_labelled_objects_of_dead_runs(docker_client: Any) -> None:
    dead = docker_client.networks.create("nctest-dead", labels={"io.netcheck.run": "dead01"})
    mine = docker_client.networks.create("nctest-unlabelled")
    live = DockerRuntime(RuntimeOptions(run_id=run_id()))
    try:
        live.build(plan((bridge("a", "10.250.70.0/24"),), ()), lambda _: None)
        assert any("nctest-dead" in r for r in clean_docker(None, dry_run=True))
        removed = clean_docker(None)
        assert any("nctest-dead" in r for r in removed)
        assert not any("nctest-unlabelled" in r or live.run_id in r for r in removed)
        names = {n.name for n in docker_client.networks.list()}
        assert "nctest-unlabelled" in names and "nctest-dead" not in names
        assert f"nc-{live.run_id}-a" in names
    finally:
        live.teardown()
        mine.remove()
        with __import__("contextlib").suppress(Exception):
            dead.remove()
