"""Expectation selection and probe-target resolution (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from netcheck.engine.plan_tasks import (
    build_tasks,
    listen_tasks,
    listener_targets,
    select,
    without_listener,
)
from netcheck.errors import UsageError
from netcheck.model.addressing import target_address
from netcheck.model.plan import Expectation, NodeKind, Port, ProbeKind, ProbeSpec, Target
from netcheck.model.results import Interface, Node, Topology
from netcheck.model.sites import NamespacePath

ip = ipaddress.ip_address
net = ipaddress.ip_network


def iface(name: str, network: str, addr: str, prefix: str) -> Interface:
    return Interface(ifname=name, network=network, address=ip(addr), prefix=net(prefix))


C1 = Node(name="c1", kind=NodeKind.ENDPOINT, site=NamespacePath(path="/run/netns/c1"),
          interfaces=(iface("eth0", "pub", "10.0.0.10", "10.0.0.0/24"),))
ROUTER = Node(name="router", kind=NodeKind.ROUTER, site=NamespacePath(path="/run/netns/r"),
              interfaces=(
    iface("lan1", "lan1", "192.168.1.1", "192.168.1.0/24"),
    iface("lan0", "lan0", "10.0.0.1", "10.0.0.0/24"),
))
NAS = Node(name="nas", kind=NodeKind.MACHINE, site=NamespacePath(path="/run/netns/nas"),
           interfaces=(iface("eth0", "lan1", "192.168.1.5", "192.168.1.0/24"),),
           listen=(Port(proto=ProbeKind.TCP, number=445),))
TOPO = Topology(run_id="abc123", runtime="netns",
                nodes={"c1": C1, "router": ROUTER, "nas": NAS})


def e(src: str, dst: str, via: str | None = None, kind: ProbeKind = ProbeKind.ICMP) -> Expectation:
    probe = ProbeSpec(
        kind=kind,
        qname="x" if kind is ProbeKind.DNS else None,
        port=445 if kind in (ProbeKind.TCP, ProbeKind.UDP) else None,
    )
    tgt = Target(node=dst, via=via)
    return Expectation(id=f"{probe}:{src}->{tgt}", source=src, target=tgt, probe=probe,
                       reachable=True)


def test_select_globs() -> None:
    exps = [e("c1", "router"), e("c1", "nas"), e("nas", "c1")]
    assert [x.id for x in select(exps, ["icmp:c1->*"])] == ["icmp:c1->router", "icmp:c1->nas"]
    assert len(select(exps, [])) == 3
    with pytest.raises(UsageError, match="matches no expectation"):
        select(exps, ["tcp/*"])


def test_target_prefers_the_sources_subnet() -> None:
    assert target_address(C1, ROUTER, None) == ip("10.0.0.1")
    assert target_address(C1, ROUTER, "lan1") == ip("192.168.1.1")
    assert target_address(C1, ROUTER, "nope") is None
    # not on-link: first address of the same family
    assert target_address(C1, NAS, None) == ip("192.168.1.5")


def test_build_tasks_skips_unavailable_and_errors_unknown() -> None:
    exps = [e("c1", "router"), e("c1", "nas", via="nope"), e("c9", "router"),
            e("c1", "ghost"), e("c1", "nas", kind=ProbeKind.DNS)]
    tasks, unresolved = build_tasks(exps, TOPO, {"c9": "kernel lacks ipvlan"})
    assert [t.probe_id for t in tasks] == ["icmp:c1->router"]
    assert tasks[0].source_site.netns == "/run/netns/c1"
    by_id = {u.expectation_id: u for u in unresolved}
    assert by_id["icmp:c9->router"].skip and "ipvlan" in by_id["icmp:c9->router"].reason
    assert not by_id["icmp:c1->nas@nope"].skip
    assert not by_id["icmp:c1->ghost"].skip
    assert "resolver" in by_id["dns/x:c1->nas"].reason


def test_listeners_only_for_targets() -> None:
    assert [t.node for t in listen_tasks(TOPO, {"nas"})] == ["nas"]
    assert listen_tasks(TOPO, {"c1"}) == []


def test_listeners_only_where_tcp_or_udp_probes_aim() -> None:
    exps = [e("c1", "router"), e("c1", "nas", kind=ProbeKind.TCP)]
    tasks, _ = build_tasks(exps, TOPO, {})
    assert listener_targets(tasks) == {"nas"}


def test_probes_to_a_node_without_its_listener_become_errors() -> None:
    exps = [e("c1", "nas"), e("c1", "nas", kind=ProbeKind.TCP), e("c1", "router")]
    tasks, _ = build_tasks(exps, TOPO, {})
    keep, lost = without_listener(tasks, {"nas": "cannot listen on tcp/445: in use"})
    assert [t.probe_id for t in keep] == ["icmp:c1->nas", "icmp:c1->router"]
    assert [(u.expectation_id, u.skip) for u in lost] == [("tcp/445:c1->nas", False)]
    assert "listener could not start: cannot listen on tcp/445" in lost[0].reason


# --- literal targets and pinned sources -------------------------------------------------

MULTI = Node(name="m", kind=NodeKind.HOST, site=NamespacePath(path="/run/netns/m"), interfaces=(
    iface("eth0", "lan0", "10.0.0.20", "10.0.0.0/24"),
    iface("eth1", "lan1", "192.168.1.20", "192.168.1.0/24"),
    Interface(ifname="eth1", network="lan1", address=ip("fd00:1::20"),
              prefix=net("fd00:1::/64")),
))
TOPO2 = Topology(run_id="abc123", runtime="netns",
                 nodes={"c1": C1, "router": ROUTER, "nas": NAS, "m": MULTI})


def lit(src: str, address: str, kind: ProbeKind = ProbeKind.ICMP, label: str | None = None,
        **pin: object) -> Expectation:
    probe = ProbeSpec(kind=kind, port=445 if kind in (ProbeKind.TCP, ProbeKind.UDP) else None)
    tgt = Target(node=label or address, address=ip(address))
    return Expectation(id=f"{probe}:{src}->{tgt}", source=src, target=tgt, probe=probe,
                       reachable=True, **pin)  # type: ignore[arg-type]


def test_literal_target_goes_to_its_address_and_finds_its_owner() -> None:
    exps = [lit("c1", "192.168.1.5", ProbeKind.TCP, label="db"), lit("c1", "203.0.113.9")]
    tasks, unresolved = build_tasks(exps, TOPO2, {})
    assert unresolved == []
    db, outside = tasks
    assert (db.target, db.target_address, db.target_node) == ("db", ip("192.168.1.5"), "nas")
    assert (outside.target_address, outside.target_node) == (ip("203.0.113.9"), None)
    # The machine that holds the address answers with its own listen: ports.
    assert listener_targets(tasks) == {"nas"}
    keep, lost = without_listener(tasks, {"nas": "in use"})
    assert [u.expectation_id for u in lost] == ["tcp/445:c1->db"]
    assert [t.probe_id for t in keep] == ["icmp:c1->203.0.113.9"]


def test_literal_target_never_waits_for_an_unavailable_node_of_its_name() -> None:
    tasks, unresolved = build_tasks([lit("c1", "192.168.1.5")], TOPO2,
                                    {"192.168.1.5": "not a node"})
    assert [t.target_address for t in tasks] == [ip("192.168.1.5")] and unresolved == []


def test_source_pinned_to_a_network_uses_that_address() -> None:
    exps = [
        e("m", "router"),
        replace(e("m", "router"), id="icmp:m@lan0->router", source_via="lan0"),
        replace(e("m", "nas"), id="icmp:m@lan0->nas", source_via="lan0"),
        replace(lit("m", "fd00:1::5"), source_via="lan1"),
        replace(lit("m", "fd00:1::6"), source_via="lan0"),
        replace(e("m", "router"), id="icmp:m@ghost->router", source_via="ghost"),
    ]
    tasks, unresolved = build_tasks(exps, TOPO2, {})
    got = {t.probe_id: (t.source_address, t.target_address) for t in tasks}
    assert got["icmp:m->router"] == (None, ip("192.168.1.1"))  # the router's first leg m is on
    # Pinned to lan0: the router's leg on the pinned interface's subnet.
    assert got["icmp:m@lan0->router"] == (ip("10.0.0.20"), ip("10.0.0.1"))
    # Pinned to lan0, the target on lan1 is still probed - from the lan0 address.
    assert got["icmp:m@lan0->nas"] == (ip("10.0.0.20"), ip("192.168.1.5"))
    assert got["icmp:m->fd00:1::5"] == (ip("fd00:1::20"), ip("fd00:1::5"))
    reasons = {u.expectation_id: u.reason for u in unresolved}
    assert reasons == {
        "icmp:m->fd00:1::6": "m has no IPv6 address on lan0 to reach fd00:1::6 from",
        "icmp:m@ghost->router": "m has no address on ghost",
    }
    assert not any(u.skip for u in unresolved)


def test_source_address_must_be_held_at_run_time() -> None:
    held = replace(e("m", "nas"), id="a", source_address=ip("192.168.1.20"))
    missing = replace(e("m", "nas"), id="b", source_address=ip("192.168.1.99"))
    tasks, unresolved = build_tasks([held, missing], TOPO2, {})
    assert [(t.probe_id, t.source_address) for t in tasks] == [("a", ip("192.168.1.20"))]
    assert [(u.expectation_id, u.skip) for u in unresolved] == [("b", False)]
    assert unresolved[0].reason == (
        "m does not hold the source address 192.168.1.99 (its addresses: 10.0.0.20, "
        "192.168.1.20, fd00:1::20)"
    )


def test_dns_to_a_literal_server() -> None:
    probe = ProbeSpec(kind=ProbeKind.DNS, qname="db.example")
    exp = Expectation(id="dns/db.example:c1", source="c1", target=Target(node="c1"),
                      probe=probe, reachable=True, dns_server="10.0.0.53",
                      dns_server_address=ip("10.0.0.53"))
    tasks, unresolved = build_tasks([exp], TOPO2, {})
    assert unresolved == [] and tasks[0].dns_server == ip("10.0.0.53")
