"""Swarm services in the topology SVG, checked on the parsed XML (no browser, no Docker: the
plan comes from scenarios/multihost/swarm-services.yaml through the scenario loader)."""

from __future__ import annotations

import dataclasses
import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from netcheck.model.plan import EndpointMode, NodeKind, Plan, PolicyRule, Route, RouteTable
from netcheck.model.results import (
    Interface,
    Node,
    Observation,
    Outcome,
    RunRecord,
    ServiceRecord,
    ServiceTask,
    Topology,
)
from netcheck.model.sites import NamespacePath
from netcheck.reports.html import render, render_topology_svg
from netcheck.reports.topology_svg import MAX_TASKS, layout
from netcheck.scenario import load_plan
from tests.baseline.records import verdict
from tests.helpers import ROOT

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>&\''
ip = ipaddress.ip_address


@pytest.fixture(scope="module")
def swarm_plan() -> Plan:
    return load_plan(ROOT / "scenarios" / "multihost" / "swarm-services.yaml")


VERDICTS = (
    verdict("icmp:client1->db", Outcome.FAIL, Observation.SILENT),
    verdict("tcp/80:client2->web", Outcome.ERROR, Observation.ERROR),
    verdict("icmp:client2->db", Outcome.PASS, Observation.ANSWERED),
)


def _svg(record: RunRecord, plan: Plan | None) -> ET.Element:
    return ET.fromstring(render_topology_svg(record, plan))


def _all(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if cls in (e.get("class") or "").split()]


def _one(root: ET.Element, tag: str, cls: str, **data: str) -> ET.Element:
    found = [
        e
        for e in _all(root, tag, cls)
        if all(e.get(f"data-{k.replace('_', '-')}") == v for k, v in data.items())
    ]
    assert len(found) == 1, (tag, cls, data, len(found))
    return found[0]


def _title(e: ET.Element) -> str:
    title = e.find(SVG + "title")
    assert title is not None and title.text is not None
    return title.text


def _texts(e: ET.Element) -> list[str]:
    return [t.text or "" for t in e.iter(SVG + "text")]


def _built(record_factory: Callable[..., RunRecord]) -> RunRecord:
    """A run that built db (dnsrr, 2 tasks on host2) and a VIP service `api` the plan lacks;
    web (vip) was skipped, as on a kernel without IPVS."""
    overnet = ipaddress.ip_network("10.251.0.0/24")

    def node(name: str, kind: NodeKind, host: str | None, addr: str, how: str) -> Node:
        iface = Interface(
            ifname="vip" if how == "ipvs" else "eth0",
            network="overnet",
            address=ip(addr),
            prefix=overnet,
            kind=how,
        )
        return Node(
            name=name,
            kind=kind,
            site=NamespacePath(path=f"/run/netns/nc-ab12cd-{name}"),
            host=host,
            interfaces=(iface,),
        )

    nodes = {
        "client1": node("client1", NodeKind.ENDPOINT, "host1", "10.251.0.4", "veth"),
        "client2": node("client2", NodeKind.ENDPOINT, "host2", "10.251.0.2", "veth"),
        "db": node("db", NodeKind.SERVICE, "host2", "10.251.0.6", "veth"),
        "api": node("api", NodeKind.SERVICE, "host1", "10.251.0.9", "ipvs"),
    }
    facts = {
        "kernel": "6.1.0-test",
        "service.db.mode": "dnsrr",
        "service.db.tasks": "host2:10.251.0.6, host2:10.251.0.7",
        "service.api.mode": "vip",
        "service.api.tasks": "host1:10.251.0.10, -:10.251.0.11, host2:10.251.0.12",
        "service.api.vip": "overnet=10.251.0.9/24",
    }
    def task(host: str | None, *addresses: str) -> ServiceTask:
        return ServiceTask(host=host, addresses=tuple(ipaddress.ip_address(a) for a in addresses))

    services = {
        "db": ServiceRecord(
            name="db", mode=EndpointMode.DNSRR,
            tasks=(task("host2", "10.251.0.6"), task("host2", "10.251.0.7")),
        ),
        "api": ServiceRecord(
            name="api", mode=EndpointMode.VIP,
            tasks=(task("host1", "10.251.0.10"), task(None, "10.251.0.11"),
                   task("host2", "10.251.0.12")),
            vips={"overnet": ipaddress.ip_address("10.251.0.9")},
        ),
    }
    topo = Topology(
        run_id="ab12cd", runtime="docker", nodes=nodes, facts=facts, services=services
    )
    return record_factory(scenario="swarm-services", topology=topo, facts=facts, verdicts=VERDICTS)


def test_services_from_the_plan_with_mode_networks_tasks_and_links(
    swarm_plan: Plan, record_factory: Callable[..., RunRecord]
) -> None:
    root = _svg(record_factory(topology=None, verdicts=VERDICTS), swarm_plan)

    web = _one(root, "g", "service", name="web")
    assert (web.get("data-mode"), web.get("data-networks"), web.get("data-replicas")) == (
        "vip",
        "overnet",
        "2",
    )
    assert "publish 8080:80/tcp (routing mesh)" in _title(web)
    db = _one(root, "g", "service", name="db")
    assert (db.get("data-mode"), db.get("data-replicas")) == ("dnsrr", "2")
    assert "on host2" in _title(db)

    # The service's own box, styled as a service, and its tasks as task boxes.
    for name, mode in (("web", "vip"), ("db", "dnsrr")):
        box = _one(root, "g", "node", name=name, kind="service", service=name)
        assert _texts(box)[1] == f"{mode} · 2 tasks"
        for slot in (1, 2):
            task = _one(root, "g", "node", name=f"{name}.{slot}", kind="task", service=name)
            rect = task.find(SVG + "rect")
            assert rect is not None and "k-task" in (rect.get("class") or "")
            _one(root, "path", "svclink", service=name, task=f"{name}.{slot}")
            _one(root, "g", "attachment", node=f"{name}.{slot}", bus="overnet")
    assert _texts(_one(root, "g", "node", name="db.1"))[1] == "task on host2"  # pinned
    assert _texts(_one(root, "g", "node", name="web.1"))[1] == "task · swarm places it"

    # Its networks: a VIP drop (vip) or a dashed dnsrr drop onto the overlay's bus.
    _one(root, "g", "network", name="overnet")
    web_drop = _one(root, "g", "attachment", node="web", bus="overnet")
    assert _all(web_drop, "line", "s-vip") and _texts(web_drop) == ["VIP"]
    db_drop = _one(root, "g", "attachment", node="db", bus="overnet")
    assert _all(db_drop, "line", "s-dnsrr") and _texts(db_drop) == ["dnsrr"]

    # Failing paths to services are still drawn, and mark the service box, not its tasks.
    _one(root, "path", "o-fail", source="client1", target="db")
    _one(root, "path", "o-error", source="client2", target="web")
    failing = {
        n.get("data-name")
        for n in _all(root, "g", "node")
        if any("failing" in (r.get("class") or "") for r in n.iter(SVG + "rect"))
    }
    assert failing == {"client1", "client2", "db", "web"}

    # db is pinned to host2: it follows host2's containers; web goes after the machines.
    order = [n.get("data-name") for n in _all(root, "g", "node")]
    assert order == [
        "router",
        "host1",
        "client1",
        "host2",
        "client2",
        "db",
        "db.1",
        "db.2",
        "laptop",
        "web",
        "web.1",
        "web.2",
    ]


def test_services_with_what_the_run_learnt(
    swarm_plan: Plan, record_factory: Callable[..., RunRecord]
) -> None:
    record = _built(record_factory)
    root = _svg(record, swarm_plan)
    # Task addresses and hosts from the run's service records.
    for slot, addr in ((1, "10.251.0.6"), (2, "10.251.0.7")):
        drop = _one(root, "g", "attachment", node=f"db.{slot}", bus="overnet")
        assert _texts(drop) == [addr]
    # The plan's web was skipped: drawn, and said so.
    web = _one(root, "g", "node", name="web", kind="service")
    assert _texts(web)[1] == "vip · not built"
    assert "not built in this run" in _title(_one(root, "g", "service", name="web"))
    # A service only the record knows (no plan entry) is drawn from the record: its VIP.
    api = _one(root, "g", "service", name="api")
    assert (api.get("data-mode"), api.get("data-replicas")) == ("vip", "3")
    assert _texts(_one(root, "g", "attachment", node="api", bus="overnet")) == ["VIP 10.251.0.9"]
    assert _texts(_one(root, "g", "node", name="api.2"))[1] == "task · swarm places it"
    assert _texts(_one(root, "g", "node", name="api.3"))[1] == "task on host2"

    # Without the plan, the record alone still draws its services.
    bare = _svg(record, None)
    db = _one(bare, "g", "service", name="db")
    assert (db.get("data-mode"), db.get("data-replicas")) == ("dnsrr", "2")
    assert {e.get("data-name") for e in _all(bare, "g", "service")} == {"db", "api"}
    _one(bare, "path", "o-fail", source="client1", target="db")


def test_many_replicas_are_capped(
    swarm_plan: Plan, record_factory: Callable[..., RunRecord]
) -> None:
    web = dataclasses.replace(swarm_plan.service("web"), replicas=MAX_TASKS + 4)
    plan = dataclasses.replace(swarm_plan, services=(web,))
    root = _svg(record_factory(topology=None, verdicts=()), plan)
    group = _one(root, "g", "service", name="web")
    assert group.get("data-replicas") == str(MAX_TASKS + 4)
    assert f"{MAX_TASKS + 4} replica(s)" in _title(group)
    assert len(_all(root, "path", "svclink")) == MAX_TASKS


def test_service_text_is_escaped(
    swarm_plan: Plan, record_factory: Callable[..., RunRecord]
) -> None:
    net = dataclasses.replace(swarm_plan.network("overnet"), name=f"net{EVIL}")
    web = dataclasses.replace(
        swarm_plan.service("web"), name=f"web{EVIL}", networks=(f"net{EVIL}",)
    )
    plan = dataclasses.replace(
        swarm_plan, networks=(net,), services=(web,), endpoints=(), description=EVIL
    )
    record = record_factory(scenario=EVIL, topology=None, verdicts=())
    svg = render_topology_svg(record, plan)
    assert EVIL not in svg
    root = ET.fromstring(svg)  # well-formed: every name went through escaping
    assert not list(root.iter("script")) and not list(root.iter(SVG + "script"))
    assert root.get("aria-label") == f"topology of {EVIL}"
    group = _one(root, "g", "service", name=f"web{EVIL}")
    assert group.get("data-networks") == f"net{EVIL}"
    assert f"swarm service web{EVIL}" in _title(group)
    _one(root, "path", "svclink", service=f"web{EVIL}", task=f"web{EVIL}.1")
    _one(root, "g", "attachment", node=f"web{EVIL}", bus=f"net{EVIL}")
    # The report embeds exactly this diagram.
    assert svg in render(record, plan)


def test_layout_lists_groups_and_links(
    swarm_plan: Plan, record_factory: Callable[..., RunRecord]
) -> None:
    topo = layout(record_factory(topology=None, verdicts=()), swarm_plan)
    assert [(g.name, g.mode, g.networks, g.replicas) for g in topo.services] == [
        ("db", "dnsrr", ("overnet",), 2),
        ("web", "vip", ("overnet",), 2),
    ]
    boxes = {n.name: n for n in topo.nodes}
    for group in topo.services:
        # The frame holds the service's box and its tasks' boxes.
        for name in (group.name, f"{group.name}.1", f"{group.name}.2"):
            box = boxes[name]
            assert group.x <= box.x and box.x + box.w <= group.x + group.w
            assert group.y <= box.y and box.y + box.h <= group.y + group.h
    assert [(link.service, link.task) for link in topo.links] == [
        ("db", "db.1"),
        ("db", "db.2"),
        ("web", "web.1"),
        ("web", "web.2"),
    ]


def test_a_network_joined_by_raw_vxlan_names_each_device_on_its_bus(
    record_factory: Callable[..., RunRecord]
) -> None:
    plan = load_plan(ROOT / "scenarios" / "multihost" / "vxlan-vni-mismatch.yaml")
    topo = layout(record_factory(topology=None, verdicts=()), plan)
    buses = {b.name: b.detail for b in topo.buses}
    assert buses["ovl_a"] == ("bridge · 192.168.71.0/24 · vxlan a1:vx42 id 42 remote a2 "
                              "dstport 4789 · vxlan a2:vx42 id 43 remote a1 dstport 4789")


def test_a_lan_names_the_ports_that_hairpin(record_factory: Callable[..., RunRecord]) -> None:
    plan = load_plan(ROOT / "scenarios" / "faults" / "vepa-hairpin-port.yaml")
    topo = layout(record_factory(topology=None, verdicts=()), plan)
    assert {b.name: b.detail for b in topo.buses}["lan"] == \
        "LAN · 10.65.0.0/24 · hairpin host1:eth0"


# --- issue 12: lab node settings and VXLAN tunnels ----------------------------------------


def _scenario(name: str, sets: dict[str, str] | None = None) -> Plan:
    return load_plan(ROOT / "scenarios" / name, sets)


def test_vxlan_tunnels_link_the_two_hosts_and_a_vni_mismatch_is_marked(
    record_factory: Callable[..., RunRecord],
) -> None:
    root = _svg(record_factory(topology=None, verdicts=()),
                _scenario("multihost/vxlan-vni-mismatch.yaml"))
    bad = _one(root, "g", "tunnel", a="a1", b="a2")
    good = _one(root, "g", "tunnel", a="b1", b="b2")
    assert "mismatch" in (bad.get("class") or "").split()
    assert "mismatch" not in (good.get("class") or "").split()
    assert (bad.get("data-vni"), bad.get("data-port")) == ("42 43", "4789 4789")
    assert _texts(bad) == ["VNI 42 ≠ 43"]
    assert _texts(good) == ["VNI 42 · port 4789"]
    assert _title(bad).startswith("VXLAN a1 ↔ a2: MISMATCH: VNI 42 ≠ 43")
    # The arc runs between the two hosts' boxes, from the top of one to the top of the other.
    boxes = {n.get("data-name"): n.find(SVG + "rect") for n in _all(root, "g", "node")}
    path = bad.find(SVG + "path")
    assert path is not None
    words = (path.get("d") or "").split()
    x1, y1, x2, y2 = float(words[1]), float(words[2]), float(words[-2]), float(words[-1])
    a1, a2 = boxes["a1"], boxes["a2"]
    assert a1 is not None and a2 is not None
    assert float(a1.get("x") or 0) < x1 < float(a1.get("x") or 0) + float(a1.get("width") or 0)
    assert float(a2.get("x") or 0) < x2 < float(a2.get("x") or 0) + float(a2.get("width") or 0)
    assert y1 == y2 == float(a1.get("y") or 0)
    # Fixed (--set A2_VNI=42): both tunnels agree.
    fixed = _svg(record_factory(topology=None, verdicts=()),
                 _scenario("multihost/vxlan-vni-mismatch.yaml", {"A2_VNI": "42"}))
    assert not _all(fixed, "g", "mismatch") and len(_all(fixed, "g", "tunnel")) == 2


def test_a_port_mismatch_is_marked(record_factory: Callable[..., RunRecord]) -> None:
    root = _svg(record_factory(topology=None, verdicts=()),
                _scenario("multihost/vxlan-port-mismatch.yaml"))
    bad = _one(root, "g", "mismatch", a="p1", b="p2")
    assert bad.get("data-port") == "4789 8472" and _texts(bad) == ["port 4789 ≠ 8472"]
    assert [g.get("data-a") for g in _all(root, "g", "mismatch")] == ["p1"]


def test_a_nodes_box_counts_its_settings_and_its_tooltip_lists_them(
    record_factory: Callable[..., RunRecord],
) -> None:
    root = _svg(record_factory(topology=None, verdicts=()),
                _scenario("faults/policy-routing.yaml"))
    h1 = _one(root, "g", "node", name="h1")
    assert [t.text for t in _all(h1, "text", "badge")] == ["1 rule · 1 tbl · no default"]
    assert _title(h1).splitlines() == [
        "h1 (host)",
        "routes: no default route via the LAN's gateway (default_route: false)",
        "tables: table 100: default via 10.51.0.1 dev eth0",
        "rules: priority 100 from 10.51.0.11/32 lookup 100",
    ]
    # A node without settings has no badge, but its box is as tall as the others.
    m = _one(root, "g", "node", name="m")
    assert not _all(m, "text", "badge")
    heights = {r.get("height") for g in _all(root, "g", "node") for r in g.iter(SVG + "rect")}
    assert heights == {"64"}


def test_addresses_neighbours_hairpin_ports_and_router_legs_are_drawn(
    record_factory: Callable[..., RunRecord],
) -> None:
    def badge(name: str, node: str) -> str:
        root = _svg(record_factory(topology=None, verdicts=()), _scenario(name))
        return " ".join(t.text or "" for t in _all(_one(root, "g", "node", name=node),
                                                   "text", "badge"))

    assert badge("faults/addresses.yaml", "svc") == "2 addr"
    assert badge("faults/static-neighbour.yaml", "m1") == "1 nbr"
    assert badge("faults/vepa-hairpin-port.yaml", "host1") == "hairpin"
    assert badge("faults/parent-down.yaml", "host2") == "no-carrier"
    assert badge("multihost/lab-shape.yaml", "router") == "legs a,b"
    # The router drops onto its legs' LANs only.
    root = _svg(record_factory(topology=None, verdicts=()), _scenario("multihost/lab-shape.yaml"))
    legs = {d.get("data-bus") for d in _all(root, "g", "attachment")
            if d.get("data-node") == "router"}
    assert legs == {"a", "b"}


def test_a_lab_without_settings_keeps_its_boxes_and_draws_no_tunnel(
    swarm_plan: Plan, record_factory: Callable[..., RunRecord]
) -> None:
    root = _svg(record_factory(topology=None, verdicts=VERDICTS), swarm_plan)
    assert not _all(root, "g", "tunnel") and not _all(root, "text", "badge")
    assert {r.get("height") for g in _all(root, "g", "node") for r in g.iter(SVG + "rect")
            if "box" in (r.get("class") or "")} == {"50"}


def test_the_report_lists_each_nodes_settings_in_a_table(
    record_factory: Callable[..., RunRecord],
) -> None:
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[str, str, list[str]]] = []
            self._code = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "tr" and a.get("data-node"):
                self.rows.append((a["data-node"] or "", a.get("data-what") or "", []))
            self._code = tag == "code"

        def handle_endtag(self, tag: str) -> None:
            self._code = False

        def handle_data(self, data: str) -> None:
            if self._code and self.rows:
                self.rows[-1][2].append(data)

    doc = Rows()
    doc.feed(render(record_factory(topology=None, verdicts=()),
                    _scenario("multihost/vxlan-vni-mismatch.yaml")))
    assert doc.rows == [
        ("a1", "vxlan", ["vx42 id 42 remote 10.71.0.12 (a2) dstport 4789 dev eth0 master ovl_a"]),
        ("a2", "vxlan", ["vx42 id 43 remote 10.71.0.11 (a1) dstport 4789 dev eth0 master ovl_a"]),
        ("b1", "vxlan", ["vx42 id 42 remote 10.71.0.22 (b2) dstport 4789 dev eth0 master ovl_b"]),
        ("b2", "vxlan", ["vx42 id 42 remote 10.71.0.21 (b1) dstport 4789 dev eth0 master ovl_b"]),
    ]
    doc = Rows()
    doc.feed(render(record_factory(topology=None, verdicts=()),
                    _scenario("faults/static-neighbour.yaml")))
    assert ("m1", "neighbours", ["10.71.0.20 lladdr 02:00:5e:10:00:99 dev eth0 nud permanent"]) \
        in doc.rows


def test_settings_in_the_scenario_are_escaped(record_factory: Callable[..., RunRecord]) -> None:
    plan = _scenario("faults/static-neighbour.yaml")
    lab = plan.lab
    evil = dataclasses.replace(plan, lab=dataclasses.replace(lab, machines=tuple(
        dataclasses.replace(m, stack=dataclasses.replace(m.stack, neighbours=tuple(
            dataclasses.replace(n, dev=EVIL) for n in m.stack.neighbours)))
        for m in lab.machines)))
    text = render_topology_svg(record_factory(topology=None, verdicts=()), evil)
    root = ET.fromstring(text)  # still well-formed
    assert "<script>" not in text
    assert EVIL in _title(_one(root, "g", "node", name="m1"))


def test_a_built_runs_boxes_carry_the_plans_settings(
    record_factory: Callable[..., RunRecord],
) -> None:
    # The boxes come from what the run built (its topology); the settings from the plan.
    plan = load_plan(ROOT / "scenarios" / "quickstart.yaml")
    host1 = plan.lab.host("host1")
    rule = PolicyRule(table=100, priority=100, src=ipaddress.ip_network("172.16.86.250/32"))
    table = RouteTable(id=100, routes=(Route(dst=ipaddress.ip_network("0.0.0.0/0"),
                                             via=ip("172.16.86.1")),))
    stack = dataclasses.replace(host1.stack, rules=(rule,), tables=(table,))
    plan = dataclasses.replace(plan, lab=dataclasses.replace(plan.lab, hosts=(
        dataclasses.replace(host1, stack=stack),)))
    record = record_factory()
    assert record.topology is not None and "host1" in record.topology.nodes
    root = _svg(record, plan)
    box = _one(root, "g", "node", name="host1")
    assert [t.text for t in _all(box, "text", "badge")] == ["1 rule · 1 tbl"]
    assert "rules: priority 100 from 172.16.86.250/32 lookup 100" in _title(box).splitlines()
    assert "tables: table 100: default via 172.16.86.1" in _title(box).splitlines()
    # An endpoint's box gets none of its host's settings.
    assert not _all(_one(root, "g", "node", name="c1"), "text", "badge")
