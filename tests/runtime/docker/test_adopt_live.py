"""Adopting a Docker host's existing networks and containers, for real, and leaving them be.

The "existing" host (existinghost.py) is a dockerd the test started in a namespace of its
own, with unlabelled objects made through its API. netcheck runs as a child process (as a
user runs it), names that daemon by its socket, attaches its probe containers to the
existing macvlan and bridge networks and probes from inside the existing containers. After
a pass, a failure, SIGINT, SIGTERM, and SIGKILL + `netcheck clean`, every pre-existing
network and container must still exist with the same id, configuration and state, and
nothing netcheck labelled may be left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, netcheck
from tests.runtime.docker.existinghost import (
    WEB_PROD_IP,
    ExistingHost,
    add_uplink,
    existing_host,
    labelled,
    populate,
    state,
)

pytestmark = [pytest.mark.docker, pytest.mark.privileged, pytest.mark.slow]

SHIPPED = ROOT / "scenarios" / "existing" / "adopt.yaml"
SCENARIO = SHIPPED.read_text()


@pytest.fixture(scope="module")
def host(dockerd: None) -> Iterator[ExistingHost]:
    with existing_host() as h:
        yield h


@pytest.fixture
def before(host: ExistingHost) -> Iterator[dict[str, Any]]:
    """The host's state before the test; after it, the same, and nothing labelled left."""
    client = host.client()
    try:
        snap = state(client)
        assert {c["Name"] for c in snap["containers"].values()} == {
            "/web-1", "/db-1", "/victim-1", "/idle-1"}
        yield snap
        assert labelled(client) == []
        assert state(client) == snap
    finally:
        client.close()


def _scenario(tmp_path: Path, host: ExistingHost, *, reachable: bool = False,
              text: str = SCENARIO) -> Path:
    """The shipped scenario (or a variant of it) pointed at the existing host."""
    path = tmp_path / "adopt.yaml"
    text = text.replace("unix:///var/run/docker.sock", host.url)
    if reachable:  # the one variant that fails: the closed port expected open
        text = text.replace("    reachable: false\n    reason: port-closed\n", "")
    path.write_text(text)
    return path


def test_a_run_adopts_and_passes(host: ExistingHost, before: dict[str, Any],
                                 tmp_path: Path) -> None:
    record = tmp_path / "run.json"
    proc = netcheck("run", str(_scenario(tmp_path, host)), "--json", str(record))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(record.read_text())
    outcomes = {v["expectation_id"]: v["outcome"] for v in data["verdicts"]}
    assert outcomes == {
        "arp:probe1->web@prod": "pass", "icmp:probe1->web@prod": "pass",
        "tcp/80:probe1->web@prod": "pass", "icmp:web->db": "pass",
        "tcp/80:db->web@backend": "pass", "tcp/81:probe2->web@backend": "pass",
    }
    closed = next(v for v in data["verdicts"] if v["expectation_id"].startswith("tcp/81"))
    assert closed["result"]["observation"] == "refused"  # the container's real port 81
    nodes = data["topology"]["nodes"]
    web = nodes["web"]
    assert web["adopted"] is True and web["listen"] == []
    assert web["site"]["kind"] == "container-pid"  # entered by its pid, no sidecar
    web_id = next(i for i, c in before["containers"].items() if c["Name"] == "/web-1")
    assert web["site"]["container"] == web_id
    prod_if = next(i for i in web["interfaces"] if i["network"] == "prod")
    assert (prod_if["address"], prod_if["kind"], prod_if["parent"], prod_if["mode"]) == (
        WEB_PROD_IP, "macvlan", "far:uplink0", "bridge")
    # The external network as Docker has it, in the record and its topology.
    prod = data["topology"]["networks"]["prod"]
    assert (prod["driver"], prod["parent"], prod["external"], prod["docker_name"]) == (
        "macvlan", "uplink0", True, "prod100")
    assert prod["subnets"][0]["ip_range"] == "10.95.100.64/26"
    assert any(i["address"] == "10.95.100.70" for i in nodes["probe1"]["interfaces"])


def test_seed_001_the_parent_is_taken_so_netcheck_joins_the_network_that_holds_it(
    host: ExistingHost, before: dict[str, Any], tmp_path: Path
) -> None:
    """Engines before 26 give a parent to one macvlan network: netcheck could not build its
    own beside prod100, and with `external: true` it does not need to."""
    import docker.errors

    from netcheck.runtime.docker.multihost import server_major

    client = host.client()
    try:
        if server_major(client.version()) >= 26:
            pytest.skip("this Engine lets two macvlan networks share a parent")
        with pytest.raises(docker.errors.APIError, match="already using parent interface"):
            client.api.create_network(
                "second", driver="macvlan", options={"parent": "uplink0"},
                ipam={"Driver": "default", "Config": [{"Subnet": "10.95.101.0/24"}]})
    finally:
        client.close()
    record = tmp_path / "run.json"
    proc = netcheck("run", str(_scenario(tmp_path, host)), "--json", str(record),
                    "--only", "*:probe1->*")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = json.loads(record.read_text())["verdicts"]
    assert [v["outcome"] for v in verdicts] == ["pass"] * 3  # arp, icmp, tcp/80 to web


def test_a_failing_run_changes_nothing_either(host: ExistingHost, before: dict[str, Any],
                                              tmp_path: Path) -> None:
    record = tmp_path / "run.json"
    proc = netcheck("run", str(_scenario(tmp_path, host, reachable=True)),
                    "--json", str(record))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(record.read_text())
    failed = [v["expectation_id"] for v in data["verdicts"] if v["outcome"] != "pass"]
    assert failed == ["tcp/81:probe2->web@backend"]


def test_a_stopped_or_missing_container_is_exit_3_and_nothing_is_built(
    host: ExistingHost, before: dict[str, Any], tmp_path: Path
) -> None:
    for name, why in (("idle-1", "is not running (status created)"),
                      ("gone-1", "does not exist on host 'far'")):
        path = _scenario(tmp_path, host, text=SCENARIO.replace(
            "db: {container: db-1}", f"db: {{container: {name}}}"))
        proc = netcheck("run", str(path))
        assert proc.returncode == 3, proc.stdout + proc.stderr
        said = _one_line(proc.stderr)  # the console wraps long lines
        assert f"endpoint 'db': container '{name}' " in said
        assert why in said


def test_a_fixed_ip_already_in_use_is_a_scenario_error(
    host: ExistingHost, before: dict[str, Any], tmp_path: Path
) -> None:
    path = _scenario(tmp_path, host, text=SCENARIO.replace("10.95.100.70", WEB_PROD_IP))
    proc = netcheck("run", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    said = _one_line(proc.stderr)
    line = 1 + next(i for i, text in enumerate(SCENARIO.splitlines())
                    if "prod: {ip: 10.95.100.70}" in text)
    assert (f"adopt.yaml:{line}: endpoints.probe1.networks.prod.ip: {WEB_PROD_IP} is already "
            "used by container 'web-1' on external network 'prod'") in said


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _labelled_running(host: ExistingHost) -> bool:
    client = host.client()
    try:
        return any(c["State"] == "running" for c in client.api.containers(
            filters={"label": "io.netcheck.run"}))
    finally:
        client.close()


def _start_and_interrupt(path: Path, host: ExistingHost, sig: int) -> int:
    """Start a run, signal it once its own containers run beside the adopted ones."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcheck", "run", str(path), "--timeout", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _labelled_running(host):
            assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
            assert time.monotonic() < deadline, "the run never started its containers"
            time.sleep(0.1)
        os.kill(proc.pid, sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_removes_only_its_own(
    host: ExistingHost, before: dict[str, Any], tmp_path: Path, sig: int
) -> None:
    code = _start_and_interrupt(_scenario(tmp_path, host), host, sig)
    assert code != 0  # interrupted, not finished


def test_a_killed_run_then_clean_removes_only_its_own(
    host: ExistingHost, before: dict[str, Any], tmp_path: Path
) -> None:
    code = _start_and_interrupt(_scenario(tmp_path, host), host, signal.SIGKILL)
    assert code == -signal.SIGKILL
    client = host.client()
    try:
        assert labelled(client) != []  # the killed run left its own containers behind
    finally:
        client.close()
    proc = netcheck("clean", "--docker-host", host.url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "docker container nc-" in proc.stdout
    assert "web-1" not in proc.stdout and "prod100" not in proc.stdout


def test_a_container_that_dies_mid_run_gives_errors_never_passes(
    host: ExistingHost, tmp_path: Path
) -> None:
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.model.results import Outcome, Topology
    from netcheck.scenario import load_plan

    text = SCENARIO.replace("db: {container: db-1}", "db: {container: victim-1}")
    plan = load_plan(_scenario(tmp_path, host, text=text))
    client = host.client()

    def kill_victim(_topology: Topology) -> None:
        client.api.kill("victim-1")  # the user's container dies; netcheck is not told

    try:
        record = run_plan(plan, RunOptions(after_build=kill_victim))
        outcomes = {v.expectation_id: v.outcome for v in record.verdicts}
        # From the dead container: could not test. To it: not reached. Never a pass.
        assert outcomes["tcp/80:db->web@backend"] is Outcome.ERROR
        assert outcomes["icmp:web->db"] in (Outcome.FAIL, Outcome.ERROR)
        detail = next(v.message for v in record.verdicts
                      if v.expectation_id == "tcp/80:db->web@backend")
        assert "namespace" in detail
        assert labelled(client) == []
    finally:
        client.api.start("victim-1")
        client.close()


def test_a_remote_daemon_is_adopted_through_sidecars(dockerd: None, tmp_path: Path) -> None:
    """tcp:// host: the existing containers are probed from sidecars sharing their
    namespace; the sidecars go, the adopted objects stay as they were."""
    import docker

    from tests.multihost.remotelab import remote_lab

    with remote_lab() as lab:
        add_uplink(Path(lab.server_netns).name)
        client = docker.DockerClient(base_url=lab.daemon.url, version="auto", timeout=60)
        try:
            populate(client)
            snap = state(client)
            path = tmp_path / "adopt.yaml"
            path.write_text(SCENARIO.replace("unix:///var/run/docker.sock", lab.url))
            record = tmp_path / "run.json"
            proc = subprocess.run(
                ["nsenter", f"--net={lab.client_netns}", "--", sys.executable, "-m",
                 "netcheck", "run", str(path), "--json", str(record)],
                capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            data = json.loads(record.read_text())
            assert {v["outcome"] for v in data["verdicts"]} == {"pass"}
            web = data["topology"]["nodes"]["web"]
            assert (web["site"]["kind"], web["site"]["url"]) == ("remote-container", lab.url)
            assert web["adopted"] is True
            assert labelled(client) == []  # sidecars and probe containers gone
            assert state(client) == snap
        finally:
            client.close()


OVERLAY_SCENARIO = """\
name: existing-overlay
runtime: docker
lab:
  hosts:
    h1: {docker: "H1"}
    h2: {docker: "H2"}
networks:
  ov: {external: true, name: shared-overlay}
endpoints:
  a: {container: app-a, host: h1}
  b: {container: app-b, host: h2}
  p1: {host: h1, networks: [ov]}
  p2: {host: h2, networks: [ov]}
expectations:
  - mesh: [a, b, p1, p2]
    probe: icmp
  - from: a
    to: b@ov
    probe: icmp/df/1400
"""


def test_an_overlay_across_two_hosts_is_adopted(dockerd: None, tmp_path: Path) -> None:
    """A swarm overlay the test made across two lab hosts: netcheck's containers join it
    on both hosts, probes run from the existing containers, and both daemons are left as
    they were (swarm, network, containers)."""
    from tests.runtime.docker.existinghost import existing_swarm

    with existing_swarm(tmp_path) as swarm:
        clients = {h: swarm.client(h) for h in ("h1", "h2")}
        try:
            before = {h: state(c) for h, c in clients.items()}
            swarms = {h: c.info()["Swarm"]["NodeID"] for h, c in clients.items()}
            path = tmp_path / "overlay.yaml"
            path.write_text(OVERLAY_SCENARIO.replace("H1", swarm.urls["h1"])
                            .replace("H2", swarm.urls["h2"]))
            record = tmp_path / "run.json"
            proc = netcheck("run", str(path), "--json", str(record), timeout=300)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            data = json.loads(record.read_text())
            assert len(data["verdicts"]) == 13
            assert {v["outcome"] for v in data["verdicts"]} == {"pass"}
            ov = data["topology"]["networks"]["ov"]
            assert (ov["driver"], ov["external"]) == ("overlay", True)
            for h, c in clients.items():
                assert labelled(c) == []
                assert state(c) == before[h]
                assert c.info()["Swarm"]["NodeID"] == swarms[h]  # still in its swarm
        finally:
            for c in clients.values():
                c.close()
