"""Privileged: build real labs with the netns runtime, check them with pyroute2 and real
pings, and check that teardown leaves nothing behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Driver, Lab, Network, NodeKind, Plan, Subnet
from netcheck.runtime import state
from netcheck.runtime.base import BuildResult, RuntimeOptions, registered
from netcheck.runtime.naming import new_run_id
from netcheck.runtime.netns import NetnsRuntime
from netcheck.runtime.netns.layout import OVERLAY_REASON
from netcheck.scenario import load_plan
from tests.helpers import ROOT
from tests.runtime.netns.netns_plans import ep, modes, net, plan, quickstart

pytestmark = pytest.mark.privileged


def leftovers(run_id: str) -> list[str]:
    return sorted(n for n in os.listdir("/run/netns") if n.startswith(f"nc-{run_id}-"))


Builder = Callable[[Plan], tuple[NetnsRuntime, BuildResult]]


@pytest.fixture
def build() -> Iterator[Builder]:
    runtimes: list[NetnsRuntime] = []

    def _build(p: Plan) -> tuple[NetnsRuntime, BuildResult]:
        rt = NetnsRuntime(RuntimeOptions(run_id=new_run_id()))
        runtimes.append(rt)
        return rt, rt.build(p, lambda _msg: None)

    try:
        yield _build
    finally:
        for rt in runtimes:
            rt.teardown()
            assert leftovers(rt.run_id) == []
            assert state.read(rt.run_id) is None


def pings(
    topology_nodes: dict[str, str], pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], bool]:
    """Send one real ping per (source node, address) pair, all at once; True if answered."""
    procs = {
        pair: subprocess.Popen(
            ["nsenter", f"--net={topology_nodes[pair[0]]}", "ping", "-c1", "-W1", pair[1]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pair in pairs
    }
    return {pair: proc.wait(timeout=10) == 0 for pair, proc in procs.items()}


def sysctl(netns: str, key: str) -> str:
    out = subprocess.run(
        ["nsenter", f"--net={netns}", "cat", f"/proc/sys/{key}"],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def test_registered_under_netns() -> None:
    assert registered()["netns"] is NetnsRuntime
    assert NetnsRuntime(RuntimeOptions(run_id="abc123")).name == "netns"


def test_quickstart_builds_what_the_plan_says(build: Builder) -> None:
    rt, result = build(quickstart(2))
    topo = result.topology
    assert result.unavailable == {}
    assert set(topo.nodes) == {"c1", "c2", "nas", "host1", "router"}
    assert topo.run_id == rt.run_id and topo.runtime == "netns"
    assert topo.facts["kernel"] == os.uname().release
    assert "macvlan" in topo.facts["kernel_features"].split(",")
    for node in topo.nodes.values():
        assert node.netns == f"/run/netns/nc-{rt.run_id}-{node.name}"
        assert os.path.exists(node.netns)
    assert f"nc-{rt.run_id}-sw" in leftovers(rt.run_id)
    # Every namespace the run made, typed: the lab switch (no node) among them.
    assert topo.lab_netns["sw"] == f"/run/netns/nc-{rt.run_id}-sw"
    assert {k: v for k, v in topo.lab_netns.items() if k in topo.nodes} == {
        n.name: n.netns for n in topo.nodes.values()}
    assert all(os.path.exists(p) for p in topo.lab_netns.values())

    c2 = topo.nodes["c2"]
    (iface,) = c2.interfaces
    assert (iface.ifname, iface.network, str(iface.address), iface.kind) == (
        "eth0", "pub_net", "172.16.86.128", "macvlan")
    assert (iface.parent, iface.mode, str(iface.prefix)) == ("host1:eth0", "bridge",
                                                             "172.16.86.0/24")
    assert topo.nodes["c1"].listen and topo.nodes["nas"].listen
    assert topo.nodes["router"].address_on("lan") is not None

    with IPRoute(netns=c2.netns, flags=0) as ipr:
        (link,) = ipr.link_lookup(ifname="eth0") and ipr.get_links(ipr.link_lookup(ifname="eth0"))
        assert link.get_attr("IFLA_ADDRESS") == iface.mac == "02:42:ac:10:56:80"
        assert link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "macvlan"
        assert link.get_attr("IFLA_IFALIAS") == f"netcheck:{rt.run_id}"
        routes = ipr.route("dump", family=2, table=254)
        default = [r for r in routes if r["dst_len"] == 0]
        assert [r.get_attr("RTA_GATEWAY") for r in default] == ["172.16.86.1"]

    registry = state.read(rt.run_id)
    assert registry is not None and registry.pid == os.getpid() and state.is_alive(registry)
    assert f"nc-{rt.run_id}-c1" in registry.netns
    mode = os.stat(state.state_path(rt.run_id)).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert sysctl(topo.nodes["router"].netns, "net/ipv4/ip_forward") == "1"


def test_switch_bridges_and_hairpin(build: Builder) -> None:
    rt, _ = build(modes())
    with IPRoute(netns=f"/run/netns/nc-{rt.run_id}-sw", flags=0) as sw:
        links = {lk.get_attr("IFLA_IFNAME"): lk for lk in sw.get_links()}
        for bridge in ("lan", "hp"):
            data = links[bridge].get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
            assert data.get_attr("IFLA_BR_STP_STATE") == 0
            assert data.get_attr("IFLA_BR_FORWARD_DELAY") == 0
        ports = {p.get_attr("IFLA_IFNAME"): p for p in sw.brport("dump")}
        master = {n: links[n].get_attr("IFLA_MASTER") for n in ports}
        hp_index = links["hp"]["index"]
        for name, port in ports.items():
            hairpin = port.get_nested("IFLA_PROTINFO", "IFLA_BRPORT_MODE")
            assert hairpin == (1 if master[name] == hp_index else 0), name
            assert port.get_nested("IFLA_PROTINFO", "IFLA_BRPORT_STATE") == 3  # forwarding
        assert {"router-lan", "router-hp", "nas", "host1-eth0", "host1-trunk0.10"} <= set(ports)


def test_macvlan_modes_follow_kernel_semantics(build: Builder) -> None:
    _, result = build(modes())
    nodes = result.topology.nodes
    paths = {name: node.netns for name, node in nodes.items()}

    def addr(node: str, network: str) -> str:
        return str(nodes[node].address_on(network))

    host_addr = str(nodes["host1"].address_on("lan"))
    assert host_addr == "10.50.0.250"
    expected = {
        ("b1", addr("b2", "mvb")): True,  # bridge mode: siblings meet inside the parent
        ("b1", "10.50.0.1"): True,  # the router, across the switch
        ("b1", "10.50.0.20"): True,  # a machine on the LAN
        ("b1", host_addr): False,  # never the parent host: macvlan host isolation
        ("p1", addr("p2", "mvp")): False,  # private: no sibling traffic at all
        ("v1", addr("v2", "mvv")): False,  # vepa without a hairpin switch port
        ("h1", addr("h2", "mvh")): True,  # vepa with hairpin on the LAN
        ("t1", "10.50.0.20"): True,  # passthru: the only child, owns the parent
        ("d1", addr("d2", "brn")): True,  # bridge driver: through br-brn in the host
        ("d1", "172.30.0.1"): True,  # the bridge network's gateway on the host
        ("nas", addr("h1", "mvh")): True,  # inter-LAN through the router (ip_forward=1)
    }
    seen = pings(paths, list(expected))
    assert seen == expected


def test_router_without_forwarding_does_not_route(build: Builder) -> None:
    p = modes()
    assert p.lab.router is not None
    p = replace(p, lab=replace(p.lab, router=replace(p.lab.router, forward=False)))
    _, result = build(p)
    nodes = result.topology.nodes
    assert sysctl(nodes["router"].netns, "net/ipv4/ip_forward") == "0"
    target = str(nodes["h1"].address_on("mvh"))
    assert pings({"nas": nodes["nas"].netns}, [("nas", target), ("nas", "10.50.0.1")]) == {
        ("nas", target): False, ("nas", "10.50.0.1"): True}


def test_unbuildable_endpoints_are_reported_not_built(build: Builder) -> None:
    base = quickstart(1)
    overlay = Network(name="ov", driver=Driver.OVERLAY, subnets=base.networks[0].subnets)
    p = replace(base, networks=(*base.networks, overlay),
                endpoints=(*base.endpoints, ep("o1", "host1", ("ov", None))))
    rt, result = build(p)
    assert result.unavailable == {"o1": OVERLAY_REASON}
    assert "o1" not in result.topology.nodes
    assert f"nc-{rt.run_id}-o1" not in leftovers(rt.run_id)


def test_failed_build_tears_down_and_explains() -> None:
    base = quickstart(2)
    too_big = replace(base.networks[0], mtu=9000)  # above the 1500-byte parent: EINVAL
    rt = NetnsRuntime(RuntimeOptions(run_id=new_run_id()))
    with pytest.raises(RuntimeBuildError, match=r"creating macvlan c1:eth0 on host1:eth0"):
        rt.build(replace(base, networks=(too_big,)), lambda _m: None)
    assert leftovers(rt.run_id) == []
    assert state.read(rt.run_id) is None
    rt.teardown()  # still safe


def test_interrupt_mid_build_leaves_nothing() -> None:
    rt = NetnsRuntime(RuntimeOptions(run_id=new_run_id()))

    def progress(message: str) -> None:
        if message.startswith("endpoints"):
            assert leftovers(rt.run_id)  # the lab exists by now
            raise KeyboardInterrupt  # what a SIGINT handler raises

    with pytest.raises(KeyboardInterrupt):
        rt.build(quickstart(3), progress)
    assert leftovers(rt.run_id) == []
    rt.teardown()
    rt.teardown()


def test_second_ctrl_c_during_a_failed_build_teardown_is_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from netcheck.runtime.netns import nsfs

    rt = NetnsRuntime(RuntimeOptions(run_id=new_run_id()))
    original = nsfs.remove
    calls: list[str] = []

    def signalled(path: str) -> bool:
        calls.append(path)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C
        return original(path)

    def progress(message: str) -> None:
        if message.startswith("endpoints"):
            monkeypatch.setattr(nsfs, "remove", signalled)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rt.build(quickstart(3), progress)
    assert len(calls) > 2, "the teardown stopped at the second signal"
    assert leftovers(rt.run_id) == []


def test_teardown_is_idempotent(build: Builder) -> None:
    rt, _ = build(quickstart(1))
    assert leftovers(rt.run_id)
    rt.teardown()
    assert leftovers(rt.run_id) == []
    rt.teardown()
    NetnsRuntime(RuntimeOptions(run_id=new_run_id())).teardown()  # never built: a no-op


def test_reserved_node_name_is_refused_before_building() -> None:
    p = quickstart(1)
    p = replace(p, endpoints=(replace(p.endpoints[0], name="sw"),))
    rt = NetnsRuntime(RuntimeOptions(run_id=new_run_id()))
    with pytest.raises(RuntimeBuildError, match="reserved"):
        rt.build(p, lambda _m: None)
    assert leftovers(rt.run_id) == []


def test_bridge_only_plan_uses_an_implicit_host(build: Builder) -> None:
    brn = Network(name="brn", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("172.29.0.0/24")),))
    p = plan(lab=Lab(), networks=[brn], endpoints=[ep("a", None, ("brn", None)),
                                                   ep("b", None, ("brn", None))])
    rt, result = build(p)
    assert set(result.topology.nodes) == {"a", "b"}
    assert f"nc-{rt.run_id}-local" in leftovers(rt.run_id)
    nodes = result.topology.nodes
    assert nodes["a"].host is None
    target = str(nodes["b"].address_on("brn"))
    assert pings({"a": nodes["a"].netns}, [("a", target)]) == {("a", target): True}


def test_routers_in_series_are_built_with_their_legs_and_neighbour_states(
    build: Builder, tmp_path: Path,
) -> None:
    """lab.routers: each router its own namespace, a leg per LAN it names with the leg's
    address, forwarding on, its routes; a ping crosses both; a neighbour entry is added
    in the nud state the scenario gives it (not only permanent)."""
    text = (ROOT / "scenarios" / "multihost" / "routers-series.yaml").read_text()
    text = text.replace("    ma: {lan: a, ip: 10.61.1.10, listen: [tcp/80]}",
                        "    ma:\n      lan: a\n      ip: 10.61.1.10\n      neighbours:\n"
                        "        - {ip: 10.61.1.77, mac: '02:00:00:00:00:77', state: stale}\n"
                        "        - {ip: 10.61.1.78, mac: '02:00:00:00:00:78', state: noarp}")
    path = tmp_path / "routers.yaml"
    path.write_text(text)
    _, result = build(load_plan(path))
    nodes = result.topology.nodes
    assert {n: nodes[n].kind for n in ("r1", "r2")} == {"r1": NodeKind.ROUTER,
                                                       "r2": NodeKind.ROUTER}
    assert [(i.ifname, str(i.address)) for i in nodes["r2"].interfaces] == [
        ("t", "10.61.0.2"), ("b", "10.61.2.1")]
    for name in ("r1", "r2"):
        assert sysctl(nodes[name].netns, "net/ipv4/ip_forward") == "1"
    with IPRoute(netns=nodes["r1"].netns, flags=0) as ipr:
        routes = ipr.route("dump", family=2, table=254, dst_len=24)
        assert [(r.get_attr("RTA_DST"), r.get_attr("RTA_GATEWAY")) for r in routes
                if r.get_attr("RTA_GATEWAY")] == [("10.61.2.0", "10.61.0.2")]
    with IPRoute(netns=nodes["ma"].netns, flags=0) as ipr:
        states = {n.get_attr("NDA_DST"): (n["state"], n.get_attr("NDA_LLADDR"))
                  for n in ipr.get_neighbours(family=2)}
    assert states["10.61.1.77"] == (0x04, "02:00:00:00:00:77")  # NUD_STALE
    assert states["10.61.1.78"] == (0x40, "02:00:00:00:00:78")  # NUD_NOARP
    paths = {"ma": nodes["ma"].netns}
    assert pings(paths, [("ma", "10.61.2.10"), ("ma", "10.61.0.2")]) == {
        ("ma", "10.61.2.10"): True, ("ma", "10.61.0.2"): True}
