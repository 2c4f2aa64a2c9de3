"""The docker runtime's build steps alone: the order the runtime composes them in, and the
decisions they take without a daemon (pure logic; the live build is covered by test_lab.py,
test_real_host.py, test_vxlan.py and tests/multihost)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Host,
    Lab,
    Network,
    NodeKind,
    Plan,
    ProbeKind,
    PublishedPort,
    Service,
    Uplink,
    Vxlan,
)
from netcheck.model.results import DockerEnvironment, Interface, Node
from netcheck.model.sites import NamespacePath
from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.docker import build, vxlan
from netcheck.runtime.docker.adopt import FoundNetwork
from netcheck.runtime.docker.build import Build
from netcheck.runtime.docker.handles import DaemonHandle
from netcheck.runtime.docker.runtime import DockerRuntime
from netcheck.runtime.netns.context import refused

ip = ipaddress.ip_address


def _plan(networks: tuple[Network, ...] = (), endpoints: tuple[Endpoint, ...] = (),
          hosts: tuple[Host, ...] = (), services: tuple[Service, ...] = ()) -> Plan:
    return Plan(name="t", source="t.yaml", description=None, lab=Lab(hosts=hosts),
                networks=networks, endpoints=endpoints, expectations=(), services=services)


def _ep(name: str, *nets: str, host: str | None = None) -> Endpoint:
    return Endpoint(name=name, host=host, attachments=tuple(Attachment(network=n) for n in nets))


def test_the_steps_run_in_build_order_and_time_the_same_phases_as_before() -> None:
    names = [(phase, step.__name__) for phase, step in DockerRuntime.BUILD_STEPS]
    assert names == [
        (None, "_plan_step"), ("underlay", "_underlay_step"), ("daemons", "_daemons_step"),
        (None, "_environment_step"), (None, "_read_step"), (None, "_place_step"),
        (None, "_check_step"), ("swarm", "_swarm_step"), ("images", "_images_step"),
        ("networks", "_networks_step"), (None, "_vxlan_step"),
        ("containers", "_containers_step"), (None, "_nodes_step"),
        ("services", "_services_step"),
    ]


def test_ipvlan_without_kernel_support_skips_its_networks_and_names_the_reason() -> None:
    plan = _plan(
        networks=(Network(name="iv", driver=Driver.IPVLAN, parent="eth0"),
                  Network(name="br", driver=Driver.BRIDGE)),
        endpoints=(_ep("a", "br", "iv"), _ep("b", "br")),
    )
    out, skipped = build.unavailable(plan, lambda: "no ipvlan in this kernel")
    assert skipped == {"iv"}
    assert out == {"a": "no ipvlan in this kernel; needed by network 'iv'"}
    asked: list[int] = []
    assert build.unavailable(_plan(networks=(Network(name="br", driver=Driver.BRIDGE),)),
                             lambda: asked.append(1) or None) == ({}, set())
    assert asked == []  # the kernel is asked only when an ipvlan network is declared
    assert build.unavailable(plan, lambda: None) == ({}, set())


def test_the_endpoints_lab_hosts_decide_default_bridge_iptables_and_placement() -> None:
    hosts = (Host(name="h2"), Host(name="h1"), Host(name="far", docker_url="tcp://far:2375"))
    plan = _plan(
        networks=(Network(name="br", driver=Driver.BRIDGE),
                  Network(name="mv", driver=Driver.MACVLAN, parent="eth0")),
        endpoints=(_ep("a", "bridge"), _ep("b", "br", host="h2"), _ep("c", "mv", host="far")),
        hosts=hosts,
    )
    assert [h.name for h in build.lab_hosts(plan)] == ["h2", "h1"]
    assert build.needs_underlay(plan)
    assert build.hosts_with_default_bridge(plan) == {"h1"}  # no host: the first by name
    assert build.hosts_with_bridges(plan) == {"h2"}
    assert build.iptables_hosts(plan) == {"h1", "h2"}
    published = Service(name="web", networks=("br",),
                        publish=(PublishedPort(proto=ProbeKind.TCP, published=8080, target=80),))
    hosts3 = (*hosts, Host(name="h3"))
    assert build.iptables_hosts(_plan(hosts=hosts3, services=(published,))) == {"h1", "h2", "h3"}
    assert not build.needs_underlay(_plan())
    assert build.daemon_key(_ep("a"), ["only"]) == "only"
    assert build.daemon_key(_ep("a", host="h1"), ["h1", "h2"]) == "h1"
    with pytest.raises(RuntimeBuildError, match="names no host and the lab has 2"):
        build.daemon_key(_ep("a"), ["h1", "h2"])
    with pytest.raises(RuntimeBuildError, match="'nope' is not a Docker host"):
        build.daemon_key(_ep("a", host="nope"), ["h1"])


def test_a_network_goes_where_its_endpoints_are_and_an_overlay_on_the_manager_only() -> None:
    nets = [Network(name="br", driver=Driver.BRIDGE), Network(name="ov", driver=Driver.OVERLAY),
            Network(name="idle", driver=Driver.BRIDGE)]
    eps = [_ep("a", "br", "ov"), _ep("b", "ov"), _ep("c", "br")]
    placement = {"a": "h2", "b": "h3", "c": "h1"}
    homes, members = build.network_homes(nets, eps, placement, ["h1", "h2", "h3"])
    assert homes == {"br": ["h1", "h2"], "ov": ["h2"], "idle": ["h1", "h2", "h3"]}
    assert members == ["h2", "h3"]


def test_environment_and_facts_read_as_before() -> None:
    env = build.environment({"Version": "28.2.2", "ApiVersion": "1.50"}, lab=True)
    assert env == DockerEnvironment(server_version="28.2.2", api_version="1.50", mode="lab")
    assert build.environment({}, lab=False).server_version == "?"
    assert build.environment_facts(env, {"h1": 1.234}) == {
        "docker.server_version": "28.2.2", "docker.api_version": "1.50", "docker.mode": "lab",
        "docker.h1.daemon_ready_s": "1.23",
    }
    found = {("h1", "ext"): FoundNetwork(
        network=Network(name="ext", driver=Driver.BRIDGE, external=True, driver_name="bridge"),
        docker_name="prod_net", docker_id="0123456789abcdef")}
    assert build.external_facts(found) == {
        "network.ext.docker@h1": "prod_net 0123456789ab (external, bridge)"}
    assert build.adopted_fact({"Name": "/db", "Id": "fedcba9876543210"}) == \
        "db fedcba987654 (existing)"
    assert build.timing_facts({"networks": 0.5}) == {"docker.build.networks_s": "0.50"}


# --- raw VXLAN (runtime/docker/vxlan.py) ------------------------------------------------------

VX = Vxlan(name="vx42", vni=42, remote=ip("10.0.0.2"), remote_host="h2", dev="eth0",
           master="ovl")
H1 = Host(name="h1", uplinks=(Uplink(ifname="eth0", lan="u", ip=ip("10.0.0.1")),),
          vxlans=(VX, Vxlan(name="vx7", vni=7, remote=ip("10.0.0.2"), remote_host="h2",
                            dev="eth0")))


def test_the_underlay_builds_the_devices_in_no_bridge_and_the_step_enslaves_the_masters() -> None:
    under = vxlan.underlay_host(H1)
    assert [(v.name, v.master) for v in under.vxlans] == [("vx42", None), ("vx7", None)]
    assert under.vxlans[0] == Vxlan(**{**_fields(VX), "master": None})
    bare = Host(name="h0")
    assert vxlan.underlay_host(bare) is bare
    far = Host(name="far", docker_url="tcp://far:2375", vxlans=(VX,))
    assert vxlan.to_enslave(_plan(hosts=(H1, bare, far))) == {"h1": [VX]}


def _fields(vx: Vxlan) -> dict[str, Any]:
    return {f: getattr(vx, f) for f in vx.__dataclass_fields__}


def test_dockers_bridge_is_the_given_name_or_br_and_the_network_id() -> None:
    nid = "5f1e2d3c4b5a69788796a5b4"
    assert vxlan.bridge_name({"Id": nid, "Options": {}}) == "br-5f1e2d3c4b5a"
    assert vxlan.bridge_name({"Id": nid, "Options": None}) == "br-5f1e2d3c4b5a"
    given = {"Id": nid, "Options": {"com.docker.network.bridge.name": "ovl0"}}
    assert vxlan.bridge_name(given) == "ovl0"


def test_the_host_node_puts_the_enslaved_device_on_its_network() -> None:
    node = Node(name="h1", kind=NodeKind.HOST, site=NamespacePath(path="/run/netns/x"),
                interfaces=(
                    Interface(ifname="eth0", network="u", address=ip("10.0.0.1"), prefix=None),
                    Interface(ifname="vx42", network="vx42", address=None, prefix=None,
                              kind="vxlan", parent="h1:eth0")))
    moved = vxlan.with_master(node, VX)
    assert [(i.ifname, i.network) for i in moved.interfaces] == [("eth0", "u"), ("vx42", "ovl")]
    assert moved.interfaces[1].parent == "h1:eth0"


class _Api:
    def inspect_network(self, nid: str) -> dict[str, Any]:
        return {"Id": nid, "Options": {}}


class _Client:
    api = _Api()


def test_a_master_network_missing_on_the_host_is_refused_at_its_line() -> None:
    d = DaemonHandle(key="h1", url="unix:///x", client=_Client())
    with pytest.raises(RuntimeBuildError) as got:
        vxlan.enslave_all(_plan(hosts=(H1,)), {"h1": d}, {})
    assert "vxlan h1:vx42: network ovl was not created on h1" in str(got.value)
    assert type(got.value) is type(refused(None, "x"))


def test_read_and_place_steps_alone_over_stand_in_daemons() -> None:
    # No external network and no existing container: nothing is asked of the daemons.
    rt = DockerRuntime(RuntimeOptions(run_id="abc123"))
    for key in ("h1", "h2", "h3"):
        rt._daemons[key] = DaemonHandle(key=key, url=f"unix:///x/{key}", client=None)
    plan = _plan(
        networks=(Network(name="ov", driver=Driver.OVERLAY),
                  Network(name="br", driver=Driver.BRIDGE),
                  Network(name="iv", driver=Driver.IPVLAN, parent="eth0")),
        endpoints=(_ep("a", "ov", host="h2"), _ep("b", "br", host="h1"),
                   _ep("gone", "iv", host="h1")),
        hosts=(Host(name="h1"), Host(name="h2"), Host(name="h3")),
        services=(Service(name="web", networks=("ov",), host="h3"),),
    )
    b = Build(plan=plan, progress=lambda _: None, unavailable={"gone": "no ipvlan"},
              skipped={"iv"})
    DockerRuntime._read_step(rt, b)
    assert b.placement == {"a": "h2", "b": "h1"}
    assert [ep.name for ep in b.endpoints] == ["a", "b"] and b.existing == []
    assert b.found == {} and b.adopted == {}
    DockerRuntime._place_step(rt, b)
    assert [n.name for n in b.networks] == ["ov", "br"]
    assert b.homes == {"ov": ["h2"], "br": ["h1"]}
    assert rt._overlay_members == ["h2", "h3"]  # h3: the service pinned there
    assert [s.name for s in b.services] == ["web"]
