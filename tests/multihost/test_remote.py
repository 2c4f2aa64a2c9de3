"""Remote Docker hosts: a daemon reached over TCP, probes and responders in sidecars.

The "remote" host is a dockerd in its own namespace listening on tcp://10.99.0.1:2375 inside
it; netcheck runs in a second namespace wired to the first, never in the root namespace.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation, ProbeResult
from netcheck.model.sites import RemoteContainer
from netcheck.probes import sites
from netcheck.probes.base import WorkerReport
from netcheck.runtime.docker.remote import decode_report, is_local_url, probe_remote, serve_remote
from tests.helpers import ROOT
from tests.multihost.remotelab import remote_lab

SCENARIO = """
name: remote-tcp
description: containers on a remote Docker host, probed through sidecars
runtime: docker
lab:
  hosts:
    far: {docker: "URL"}
networks:
  localnet:
    driver: bridge
    subnets: [{subnet: 10.252.9.0/24}]
endpoints:
  c1: {host: far, networks: [localnet], listen: [tcp/80, udp/53]}
  c2: {host: far, networks: [localnet], listen: [tcp/80]}
expectations:
  - mesh: [c1, c2]
    probe: [arp, icmp, tcp/80]
  - from: c2
    to: c1
    probe: udp/53
  - from: c1
    probe: dns/c2
  - from: c1
    to: c2
    probe: tcp/81
    reachable: false
"""



def assert_remote_run(record: Path, url: str) -> dict[str, Any]:
    """SCENARIO's run record: every check passed, probed through `url`'s sidecars."""
    data: dict[str, Any] = json.loads(record.read_text())
    outcomes = {v["expectation_id"]: v["outcome"] for v in data["verdicts"]}
    assert set(outcomes.values()) == {"pass"}, outcomes
    assert len(outcomes) == 9
    # Probed through the remote daemon, not by entering a local /proc/PID.
    nodes = data["topology"]["nodes"]
    assert all(n["site"]["kind"] == "remote-container" and n["site"]["url"] == url
               for n in nodes.values())
    refused = next(v for v in data["verdicts"] if v["expectation_id"] == "tcp/81:c1->c2")
    assert refused["result"]["observation"] == "refused"  # the packet went out, RST back
    return data

def test_remote_site_is_registered_with_the_probe_layer() -> None:
    ref = RemoteContainer(run_id="ab12cd", container="f00", url="ssh://me@host:2222")
    entry = sites.entry_for(ref)
    assert entry.probe is probe_remote
    assert entry.serve is serve_remote
    assert ref.netns is None  # nothing to enter on this machine
    assert str(ref) == "container f00 on ssh://me@host:2222"
    assert is_local_url("unix:///var/run/docker.sock")
    assert not is_local_url("tcp://10.0.0.1:2376")


def _report() -> WorkerReport:
    result = ProbeResult(
        probe_id="icmp:a->b", source="a", target="b",
        target_address=ipaddress.ip_address("10.0.0.2"), probe=ProbeSpec(kind=ProbeKind.ICMP),
        observation=Observation.ANSWERED, detail="echo reply",
    )
    return WorkerReport(netns="/proc/self/ns/net", pid=1, results=(result,))


def test_reports_decode_and_nothing_else_does() -> None:
    good = base64.b64encode(pickle.dumps(_report())).decode()
    assert decode_report(good).results[0].observation is Observation.ANSWERED

    class Evil:
        def __reduce__(self) -> tuple[Any, tuple[str]]:
            return (subprocess.getoutput, ("true",))

    bad = base64.b64encode(pickle.dumps(Evil())).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        decode_report(bad)
    not_a_report = base64.b64encode(pickle.dumps(ipaddress.ip_address("10.0.0.1"))).decode()
    with pytest.raises(pickle.UnpicklingError, match="WorkerReport"):
        decode_report(not_a_report)


@pytest.mark.privileged
@pytest.mark.docker
@pytest.mark.slow
def test_remote_tcp_host_probed_through_sidecars(
    docker_client: Any, tmp_path: Path
) -> None:
    with remote_lab() as lab:
        scenario = tmp_path / "remote.yaml"
        scenario.write_text(SCENARIO.replace("URL", lab.url))
        record = tmp_path / "run.json"
        proc = subprocess.run(
            ["nsenter", f"--net={lab.client_netns}", "--", sys.executable, "-m", "netcheck",
             "run", str(scenario), "--json", str(record)],
            capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = assert_remote_run(record, lab.url)
        # Nothing of the run is left on the remote daemon: containers, sidecars, networks.
        import docker

        client = docker.DockerClient(base_url=lab.daemon.url, version="auto")
        try:
            label = f"io.netcheck.run={data['run_id']}"
            assert client.containers.list(all=True, filters={"label": label}) == []
            assert client.networks.list(filters={"label": label}) == []
        finally:
            client.close()
