from __future__ import annotations

import ipaddress

from netcheck.model.plan import (
    Driver,
    Host,
    IpvlanMode,
    Lab,
    Lan,
    MacvlanMode,
    Network,
    Subnet,
    Uplink,
)
from netcheck.runtime.naming import LOCAL_HOST
from netcheck.runtime.netns.layout import OVERLAY_REASON, docker_mac, resolve
from tests.runtime.netns.netns_plans import ep, macvlan, modes, plan, quickstart

ip = ipaddress.ip_address
net = ipaddress.ip_network
ALL = {"veth", "bridge", "macvlan", "ipvlan"}
NO_IPVLAN = {"veth", "bridge", "macvlan"}


def two_hosts(*networks: Network) -> Lab:
    lan = Lan(name="lan", subnet=net("10.1.0.0/24"), gateway=ip("10.1.0.1"))
    return Lab(
        lans=(lan,),
        hosts=tuple(
            Host(name=h, uplinks=(Uplink(ifname="eth0", lan="lan"),)) for h in ("h1", "h2")
        ),
    )


def test_quickstart_layout() -> None:
    layout = resolve(quickstart(3), NO_IPVLAN)
    assert layout.unavailable == {}
    c1, c2, c3 = layout.endpoints
    assert (c1.host, c1.attachments[0].address) == ("host1", ip("172.16.86.10"))
    assert c2.attachments[0].address == ip("172.16.86.128")
    assert c3.attachments[0].address == ip("172.16.86.129")
    att = c2.attachments[0]
    assert (att.ifname, att.parent, att.mode, att.gateway) == (
        "eth0", "eth0", "bridge", ip("172.16.86.1"))
    assert att.mac == "02:42:ac:10:56:80"
    assert layout.host_bridges == {}


def test_multi_attachment_names_follow_order_and_bridges_are_per_host() -> None:
    layout = resolve(modes(), NO_IPVLAN)
    d2 = next(e for e in layout.endpoints if e.name == "d2")
    assert [(a.ifname, a.network, a.driver) for a in d2.attachments] == [
        ("eth0", "brn", Driver.BRIDGE), ("eth1", "mvb", Driver.MACVLAN)]
    assert d2.attachments[0].address == ip("172.30.0.3")  # .1 is the bridge gateway
    assert layout.host_bridges == {"host1": ("brn",)}


def test_ipvlan_is_unavailable_without_kernel_support() -> None:
    ipv = Network(name="ipv", driver=Driver.IPVLAN, parent="eth0", ipvlan_mode=IpvlanMode.L2,
                  subnets=(Subnet(subnet=net("10.1.0.0/24")),))
    p = plan(lab=two_hosts(), networks=[ipv], endpoints=[ep("a", "h1", ("ipv", None))])
    assert resolve(p, NO_IPVLAN).unavailable == {"a": "kernel lacks ipvlan (CONFIG_IPVLAN)"}
    built = resolve(p, ALL)
    assert built.unavailable == {}
    assert built.endpoints[0].attachments[0].mac is None  # ipvlan shares the parent's MAC
    assert built.endpoints[0].attachments[0].mode == "l2"


def test_overlay_and_bad_parents_are_unavailable_with_reasons() -> None:
    networks = [
        Network(name="ov", driver=Driver.OVERLAY, subnets=(Subnet(subnet=net("10.8.0.0/24")),)),
        Network(name="noparent", driver=Driver.MACVLAN,
                subnets=(Subnet(subnet=net("10.1.0.0/24")),)),
        macvlan("wrong", "eth9", MacvlanMode.BRIDGE, "10.1.0.0/24", "10.1.0.1"),
    ]
    p = plan(lab=two_hosts(), networks=networks, endpoints=[
        ep("o", "h1", ("ov", None)), ep("n", "h1", ("noparent", None)),
        ep("w", "h1", ("wrong", None)), ep("u", None, ("wrong", None)),
        ep("x", "nohost", ("wrong", None)), ep("y", "h1", ("undefined", None)),
    ])
    layout = resolve(p, ALL)
    assert layout.endpoints == ()
    assert layout.unavailable["o"] == OVERLAY_REASON
    assert "parent required" in layout.unavailable["n"]
    assert "'eth9' is not an uplink of host 'h1'" in layout.unavailable["w"]
    assert "several" in layout.unavailable["u"]
    assert "not a lab host" in layout.unavailable["x"]
    assert "not defined" in layout.unavailable["y"]


def test_ipam_pools_are_per_host_like_separate_daemons() -> None:
    mv = macvlan("mv", "eth0", MacvlanMode.BRIDGE, "10.1.0.0/24", "10.1.0.1", "10.1.0.64/28")
    p = plan(lab=two_hosts(), networks=[mv], endpoints=[
        ep("a", "h1", ("mv", None)), ep("b", "h2", ("mv", None)),
        ep("c", "h2", ("mv", "10.1.0.65")),
    ])
    got = {e.name: e.attachments[0].address for e in resolve(p, ALL).endpoints}
    # Same first address on both hosts (a real collision), but nobody takes c's fixed one.
    assert got == {"a": ip("10.1.0.64"), "b": ip("10.1.0.64"), "c": ip("10.1.0.65")}


def test_ipam_failure_makes_the_pool_unavailable_not_the_run() -> None:
    tiny = macvlan("mv", "eth0", MacvlanMode.BRIDGE, "10.1.0.0/24", "10.1.0.1", "10.1.0.64/31")
    p = plan(lab=two_hosts(), networks=[tiny], endpoints=[
        ep(f"e{i}", "h1", ("mv", None)) for i in range(3)])
    layout = resolve(p, ALL)
    assert {e.name for e in layout.endpoints} == set()
    assert all("no free address" in r for r in layout.unavailable.values())


def test_bridge_without_lab_hosts_uses_the_implicit_local_host() -> None:
    brn = Network(name="brn", driver=Driver.BRIDGE, internal=True,
                  subnets=(Subnet(subnet=net("172.31.0.0/24")),))
    p = plan(lab=Lab(), networks=[brn], endpoints=[ep("a", None, ("brn", None))])
    layout = resolve(p, ALL)
    assert layout.uses_local_host
    assert layout.endpoints[0].host == LOCAL_HOST
    assert layout.endpoints[0].attachments[0].gateway is None  # internal: no default route


def test_passthru_keeps_the_kernel_mac_and_docker_mac_is_ipv4_only() -> None:
    pt = macvlan("pt", "eth0", MacvlanMode.PASSTHRU, "10.1.0.0/24", "10.1.0.1")
    p = plan(lab=two_hosts(), networks=[pt], endpoints=[ep("a", "h1", ("pt", None))])
    assert resolve(p, ALL).endpoints[0].attachments[0].mac is None
    assert docker_mac(ip("172.17.0.2")) == "02:42:ac:11:00:02"
    assert docker_mac(ip("fd00::2")) is None


def test_dual_stack_attachment_carries_both_families_and_a_docker_mac_from_ipv4() -> None:
    dual = Network(
        name="ds",
        driver=Driver.MACVLAN,
        parent="eth0",
        macvlan_mode=MacvlanMode.BRIDGE,
        subnets=(Subnet(subnet=net("10.9.0.0/24")), Subnet(subnet=net("fd00:9::/64"))),
    )
    p = plan(lab=two_hosts(), networks=[dual], endpoints=[ep("v6", "h1", ("ds", "fd00:9::20"))])
    (att,) = resolve(p, ALL).endpoints[0].attachments
    assert att.address == ip("fd00:9::20")
    assert [m.address for m in att.more] == [ip("10.9.0.2")]
    assert att.gateways == (ip("fd00:9::1"), ip("10.9.0.1"))
    assert att.mac == docker_mac(ip("10.9.0.2"))


def test_per_host_ip_ranges_give_each_host_pool_its_own_slice() -> None:
    shared = Network(
        name="myMaclan",
        driver=Driver.MACVLAN,
        parent="eth0",
        macvlan_mode=MacvlanMode.BRIDGE,
        subnets=(
            Subnet(
                subnet=net("172.30.0.0/16"),
                gateway=ip("172.30.0.2"),
                host_ranges={"h1": net("172.30.1.0/24"), "h2": net("172.30.2.0/24")},
            ),
        ),
    )
    p = plan(
        lab=two_hosts(),
        networks=[shared],
        endpoints=[
            ep("nginx", "h1", ("myMaclan", "172.30.0.3")),
            ep("web2", "h1", ("myMaclan", None)),
            ep("tomcat", "h2", ("myMaclan", None)),
            ep("tomcat2", "h2", ("myMaclan", None)),
        ],
    )
    got = {e.name: e.attachments[0].address for e in resolve(p, ALL).endpoints}
    # Engine 20.10 gave the same addresses for scenarios/multihost/macvlan-two-hosts.yaml.
    assert got == {
        "nginx": ip("172.30.0.3"),
        "web2": ip("172.30.1.0"),
        "tomcat": ip("172.30.2.0"),
        "tomcat2": ip("172.30.2.1"),
    }
    assert shared.on_host("h1").subnets[0].ip_range == net("172.30.1.0/24")
    assert shared.on_host("elsewhere").subnets[0].ip_range is None
