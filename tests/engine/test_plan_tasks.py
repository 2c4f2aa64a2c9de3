"""Expectation selection and probe-target resolution (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from netcheck.engine.plan_tasks import (
    build_tasks,
    listen_tasks,
    listener_targets,
    select,
    target_address,
    without_listener,
)
from netcheck.errors import UsageError
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
