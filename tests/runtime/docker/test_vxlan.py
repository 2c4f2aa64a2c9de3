"""Raw VXLAN between lab hosts under the docker runtime: the device joins the bridge the lab
host's own dockerd made for the network, containers on two hosts meet across it, and the
shipped vxlan scenarios give the same verdicts as under the netns runtime.

Real lab dockerds, real containers, real packets, all inside the lab's namespaces.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.docker import DockerRuntime
from netcheck.runtime.docker.daemon import RUN_DIR
from netcheck.runtime.docker.vxlan import bridge_name
from netcheck.scenario import load_plan
from tests.helpers import ROOT, netcheck_namespaces
from tests.runtime.docker.conftest import nsenter, ping

pytestmark = [pytest.mark.docker, pytest.mark.privileged, pytest.mark.slow]

SCENARIO = """\
name: vxlan-docker
description: two lab hosts, one bridge network joined over raw VXLAN
lab:
  lans:
    underlay: {subnet: 10.74.0.0/24}
  hosts:
    h1:
      uplinks: [{ifname: eth0, lan: underlay, ip: 10.74.0.11}]
      vxlan:
        vx42: {vni: 42, remote: h2, master: ovl}
    h2:
      uplinks: [{ifname: eth0, lan: underlay, ip: 10.74.0.12}]
      vxlan:
        vx42: {vni: "${H2_VNI:-42}", remote: h1, master: ovl}
networks:
  ovl:
    subnets: [{subnet: 192.168.74.0/24}]
    mtu: 1450
endpoints:
  c1: {host: h1, networks: {ovl: {ip: 192.168.74.11}}}
  c2: {host: h2, networks: {ovl: {ip: 192.168.74.12}}}
expectations:
  - {from: c1, to: c2, probe: icmp}
"""


def _link(netns: str, name: str) -> dict[str, Any]:
    proc = nsenter(netns, "ip", "-d", "-j", "link", "show", "dev", name)
    assert proc.returncode == 0, proc.stderr
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    return found[0]


@pytest.mark.parametrize("h2_vni", ["42", "43"])
def test_the_vxlan_joins_dockers_own_bridge_and_carries_the_containers_packets(
    h2_vni: str, tmp_path: Path, docker_client: Any
) -> None:
    path = tmp_path / "vxlan.yaml"
    path.write_text(SCENARIO)
    plan = load_plan(path, {"H2_VNI": h2_vni})
    rt = DockerRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
    try:
        topo = rt.build(plan, lambda _: None).topology
        for host in ("h1", "h2"):
            d = rt._daemons[host]
            bridge = bridge_name(d.client.api.inspect_network(d.networks["ovl"]))
            assert bridge.startswith("br-")  # Docker's own, named by the network's id
            hostns = topo.nodes[host].netns
            vx = _link(hostns, "vx42")
            assert vx["master"] == bridge
            assert vx["linkinfo"]["info_kind"] == "vxlan"
            assert vx["linkinfo"]["info_data"]["id"] == (42 if host == "h1" else int(h2_vni))
            assert _link(hostns, bridge)["linkinfo"]["info_kind"] == "bridge"
            (iface,) = [i for i in topo.nodes[host].interfaces if i.ifname == "vx42"]
            assert (iface.kind, iface.network, iface.parent) == ("vxlan", "ovl", f"{host}:eth0")
        # c1 (on h1) and c2 (on h2) share no segment but the tunnel.
        assert ping(topo.nodes["c1"].netns, "192.168.74.12") is (h2_vni == "42")
        assert ping(topo.nodes["h1"].netns, "10.74.0.12")  # the underlay works either way
    finally:
        rt.teardown()
    assert not (RUN_DIR / rt.run_id).exists()
    assert not {n for n in netcheck_namespaces() if n.startswith(f"nc-{rt.run_id}-")}


def _verdicts(path: Path, runtime: str, tmp_path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    record = tmp_path / f"{runtime}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "run", str(path), "--runtime", runtime,
         "--json", str(record)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(record.read_text())
    out = []
    for v in data["verdicts"]:
        assert v["outcome"] == "pass", v
        assert v["result"]["observation"] != "error", v
        out.append((v["expectation_id"], v["result"]["observation"],
                    tuple(sorted(f["id"] for f in v["findings"]))))
    return out


VXLAN_SCENARIOS = sorted((ROOT / "scenarios" / "multihost").glob("vxlan-*.yaml"))


@pytest.mark.parametrize("path", VXLAN_SCENARIOS, ids=[p.stem for p in VXLAN_SCENARIOS])
def test_a_shipped_vxlan_scenario_gives_the_same_verdicts_under_docker_as_under_netns(
    path: Path, tmp_path: Path, docker_client: Any
) -> None:
    docker = _verdicts(path, "docker", tmp_path)
    assert docker == _verdicts(path, "netns", tmp_path)
    # The faults are reproduced and named, not only passed on silence.
    named = {f for _id, _obs, found in docker for f in found}
    assert named & {"vxlan-vni-mismatch", "vxlan-port-mismatch", "mtu-blackhole"}, docker
