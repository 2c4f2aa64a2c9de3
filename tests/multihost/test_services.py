"""Swarm services: the scenario format, what needs IPVS, and a real two-host run.

On a kernel without IPVS (this build machine) a VIP service and the routing mesh are skipped
with the kernel's reason, never failed; a dnsrr service needs no IPVS and passes.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.engine.plan_tasks import build_tasks
from netcheck.errors import ScenarioErrors
from netcheck.image import DEFAULT_IMAGE
from netcheck.model.plan import EndpointMode, NodeKind, Port, ProbeKind, PublishedPort
from netcheck.model.results import Interface, Node, Topology
from netcheck.model.sites import ContainerPid
from netcheck.runtime.docker import services
from netcheck.scenario import load_plan
from tests.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "multihost" / "swarm-services.yaml"
MESH_IDS = {"tcp/8080:laptop->host1", "tcp/8080:laptop->host2"}

BASE = """
name: t
runtime: docker
lab:
  lans: {lan: {subnet: 192.168.40.0/24}}
  hosts:
    h1: {uplinks: [{ifname: eth0, lan: lan, ip: 192.168.40.10}]}
networks:
  ov: {driver: overlay, subnets: [{subnet: 10.9.0.0/24}]}
  br: {driver: bridge}
endpoints:
  c1: {networks: [ov]}
"""


def load_text(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "s.yaml"
    path.write_text(BASE + text)
    return load_plan(path)


def errors_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioErrors) as info:
        load_text(tmp_path, text)
    return str(info.value)


# --- the scenario format --------------------------------------------------------------------


def test_shipped_scenario_resolves_services_and_mesh() -> None:
    plan = load_plan(SCENARIO)
    web, db = plan.service("web"), plan.service("db")
    assert web.endpoint_mode is EndpointMode.VIP and web.replicas == 2
    assert web.publish == (PublishedPort(proto=ProbeKind.TCP, published=8080, target=80),)
    assert Port(proto=ProbeKind.TCP, number=80) in web.listen  # the mesh lands on port 80
    assert db.endpoint_mode is EndpointMode.DNSRR and db.host == "host2"
    assert plan.node_kind("db") is NodeKind.SERVICE
    assert set(plan.routing_mesh()) == MESH_IDS


def test_publish_text_as_docker_writes_it(tmp_path: Path) -> None:
    plan = load_text(tmp_path, """
services:
  s: {networks: ov, publish: ["5353:53/udp", "5000:80"]}
""")
    assert [str(p) for p in plan.service("s").publish] == ["5353:53/udp", "5000:80/tcp"]
    assert plan.service("s").networks == ("ov",)


@pytest.mark.parametrize(("text", "words"), [
    ("services:\n  s: {networks: [br]}\n", "swarm services attach to overlay networks"),
    ("services:\n  s: {networks: [nope]}\n", "unknown network 'nope'"),
    ("services:\n  s: {networks: [ov], host: h9}\n", "unknown host 'h9'"),
    ("services:\n  s: {networks: [ov], endpoint_mode: dnsrr, publish: ['5000:80']}\n",
     "dnsrr"),
    ("services:\n  s: {networks: [ov], publish: ['5000:80']}\n"
     "  t: {networks: [ov], publish: ['5000:81']}\n", "already published by service 's'"),
    ("services:\n  s: {networks: [ov], publish: ['80']}\n", "not a published port"),
    ("services:\n  s: {networks: [ov], endpoint_mode: rr}\n", "endpoint_mode"),
    ("services:\n  s: {networks: [ov]}\nexpectations:\n  - {from: s, to: c1, probe: icmp}\n",
     "service 's' can only be a probe target"),
    ("services:\n  c1: {networks: [ov]}\n", "already the name of"),
])
def test_bad_services_are_named(tmp_path: Path, text: str, words: str) -> None:
    assert words in errors_of(tmp_path, text)


# --- what needs IPVS ------------------------------------------------------------------------


def test_without_ipvs_vip_and_mesh_are_skipped_dnsrr_is_not() -> None:
    plan = load_plan(SCENARIO)
    missing = services.unavailable(plan, {}, lambda: "kernel lacks IPVS (CONFIG_IP_VS): x")
    assert set(missing) == {"web", *MESH_IDS}
    assert all(r.startswith("kernel lacks IPVS (CONFIG_IP_VS)") for r in missing.values())
    assert "publishes tcp/8080 through the routing mesh" in missing["tcp/8080:laptop->host1"]
    assert services.unavailable(plan, {}, lambda: None) == {}


def test_ipvs_is_not_probed_when_no_service_needs_it(tmp_path: Path) -> None:
    plan = load_text(tmp_path, "services:\n  s: {networks: ov, endpoint_mode: dnsrr}\n")

    def probe() -> str | None:
        raise AssertionError("IPVS probed for a dnsrr service")

    assert services.unavailable(plan, {}, probe) == {}


def test_a_service_on_an_unbuildable_network_is_skipped_with_its_reason(tmp_path: Path) -> None:
    plan = load_text(tmp_path, "services:\n  s: {networks: ov, endpoint_mode: dnsrr}\n")
    got = services.unavailable(plan, {"ov": "kernel lacks ESP (CONFIG_INET_ESP)"})
    assert got == {"s": "kernel lacks ESP (CONFIG_INET_ESP); needed by network 'ov'"}


def test_an_expectation_id_in_unavailable_is_skipped_alone() -> None:
    plan = load_plan(SCENARIO)
    topo = Topology(run_id="x", runtime="docker", nodes={})
    reason = "kernel lacks IPVS (CONFIG_IP_VS)"
    tasks, unresolved = build_tasks(plan.expectations, topo, dict.fromkeys(MESH_IDS, reason))
    skipped = {u.expectation_id: u for u in unresolved if u.skip}
    assert set(skipped) == MESH_IDS and skipped["tcp/8080:laptop->host1"].reason == reason
    assert not tasks  # nothing was built in this fake topology: the rest is unresolved


# --- tasks answer on their own; the node to probe -------------------------------------------


def test_tcp_ports_served_by_every_task_of_the_netcheck_image() -> None:
    plan = load_plan(SCENARIO)
    db = plan.service("db")
    argv = services.command(db, DEFAULT_IMAGE)
    assert argv[:2] == ["sh", "-c"] and "nc -ll -p $p" in argv[2] and "5432" in argv[2]
    assert services.responder_ports(db, DEFAULT_IMAGE) == ()
    assert services.command(db, "other:1")[0] == "sleep"  # a custom image may lack nc
    assert services.responder_ports(db, "other:1") == db.listen


def test_vip_node_probes_the_virtual_ip() -> None:
    plan = load_plan(SCENARIO)
    attrs = {"Endpoint": {"VirtualIPs": [{"NetworkID": "abc", "Addr": "10.251.0.9/24"},
                                         {"NetworkID": "ingress", "Addr": "10.0.0.4/24"}]}}
    vips = services.virtual_ips(attrs, {"overnet": "abc"})
    assert vips == {"overnet": "10.251.0.9/24"}
    task = Node(name="web", kind=NodeKind.ENDPOINT, site=ContainerPid(container="web", pid=1),
                host="host1",
                interfaces=(Interface(ifname="eth0", network="overnet",
                                      address=ipaddress.ip_address("10.251.0.5"),
                                      prefix=ipaddress.ip_network("10.251.0.0/24")),))
    node = services.service_node(plan.service("web"), task, vips, ())
    assert node.kind is NodeKind.SERVICE and node.netns == task.netns
    assert node.address_on("overnet") == ipaddress.ip_address("10.251.0.9")
    dnsrr = services.service_node(plan.service("db"), task, {}, ())
    assert dnsrr.address_on("overnet") == ipaddress.ip_address("10.251.0.5")


# --- real runs ------------------------------------------------------------------------------


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    record = tmp_path / "record.json"
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "run", str(SCENARIO), "--json", str(record), *extra],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(record.read_text())
    return data


@pytest.mark.privileged
def test_netns_runtime_skips_services(tmp_path: Path) -> None:
    data = _run(tmp_path, "--runtime", "netns")
    verdicts = {v["expectation_id"]: v for v in data["verdicts"]}
    assert all(v["outcome"] == "skip" for v in verdicts.values())
    assert "docker runtime" in verdicts["tcp/8080:laptop->host1"]["observed"]


@pytest.mark.privileged
@pytest.mark.docker
@pytest.mark.slow
def test_swarm_services_on_two_lab_hosts(docker_client: Any, tmp_path: Path) -> None:
    from netcheck.runtime.docker.multihost import ipvs_missing

    data = _run(tmp_path)
    verdicts = {v["expectation_id"]: v for v in data["verdicts"]}
    # dnsrr needs no IPVS: reached across hosts by IP, TCP (every task listens) and name.
    for vid in ("icmp:client1->db", "tcp/5432:client1->db", "tcp/5432:client2->db",
                "dns/db:client1->db", "tcp/5433:client2->db"):
        assert verdicts[vid]["outcome"] == "pass", verdicts[vid]
    db = data["topology"]["nodes"]["db"]
    assert db["kind"] == "service" and db["host"] == "host2"  # pinned by node id
    running = data["topology"]["services"]["db"]
    assert running["mode"] == "dnsrr"
    tasks = running["tasks"]
    assert len(tasks) == 2 and all(t["host"] == "host2" for t in tasks)
    answers = verdicts["dns/db:client1->db"]["result"]["answered_by"]
    assert sorted(answers) == sorted(a for t in tasks for a in t["addresses"])  # round robin: all
    # The facts still show them, as text for people.
    assert data["facts"]["service.db.tasks"] == ", ".join(
        f"host2:{a}" for t in tasks for a in t["addresses"])
    vip_and_mesh = [v for k, v in verdicts.items() if "web" in k or k in MESH_IDS]
    assert len(vip_and_mesh) == 7
    if ipvs_missing() is not None:
        for v in vip_and_mesh:
            assert v["outcome"] == "skip", v
            assert ("kernel lacks IPVS (CONFIG_IP_VS): swarm VIP services and the routing "
                    "mesh need it") in v["observed"]
            assert [f["id"] for f in v["findings"]] == ["kernel-feature"]
    else:
        assert all(v["outcome"] == "pass" for v in vip_and_mesh), vip_and_mesh


def test_clean_removes_services_of_dead_runs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from netcheck.runtime.docker import clean

    class Svc:
        def __init__(self, name: str, run_id: str) -> None:
            self.name = name
            self.attrs = {"Spec": {"Labels": {"io.netcheck.run": run_id}}}
            self.removed = False

        def remove(self) -> None:
            self.removed = True

    dead, alive, odd = Svc("nc-aaaaaa-web", "aaaaaa"), Svc("nc-bbbbbb-db", "bbbbbb"), \
        Svc("theirs", "not a run id")

    class Listing:
        def __init__(self, items: list[Any]) -> None:
            self.items = items

        def list(self, **_: Any) -> list[Any]:
            return self.items

    class Client:
        services = Listing([dead, alive, odd])
        containers = Listing([])
        networks = Listing([])

        def close(self) -> None:
            pass

    monkeypatch.setattr(clean, "make_client", lambda *a, **k: Client())
    monkeypatch.setattr(clean, "run_alive", lambda run_id: run_id == "bbbbbb")
    monkeypatch.setattr(clean, "clean_lab_daemons", lambda dry_run=False: [])
    assert clean.clean_docker(None) == ["docker service nc-aaaaaa-web (run aaaaaa)"]
    assert dead.removed and not alive.removed and not odd.removed
