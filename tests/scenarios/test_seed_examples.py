"""The seeds' examples (docs/seeds.md): what each scenario claims beyond running green.

test_shipped.py runs every scenario under scenarios/ (the VM ones in tests/vm); here the
runs are checked for the seeds' specifics: `parent: eth0.100` on a trunk uplink, the
address --ip-range hands out first.
"""

from __future__ import annotations

import json
import textwrap
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from netcheck.errors import ScenarioErrors
from netcheck.scenario import load_plan
from tests.helpers import ROOT, netcheck

SCENARIOS = ROOT / "scenarios"
TRUNK = SCENARIOS / "multihost" / "macvlan100-trunk.yaml"

TRUNK_LAB = """
name: t
lab:
  lans:
    mgmt: {subnet: 172.16.100.0/24}
    v100: {subnet: 10.0.0.0/24, vlan: 100}
  hosts:
    host1:
      uplinks: [{ifname: eth0, lan: %s, ip: %s}]
networks:
  n:
    driver: macvlan
    parent: %s
    subnets: [{subnet: 10.0.0.0/24}]
endpoints:
  c1: {networks: [n]}
  c2: {networks: [n]}
expectations:
  - mesh: [c1, c2]
    probe: icmp
"""


def trunk_plan_errors(tmp_path: Path, lan: str, ip: str, parent: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(TRUNK_LAB % (lan, ip, parent)), encoding="utf-8")
    try:
        load_plan(path)
    except ScenarioErrors as errors:
        return str(errors)
    return ""


def test_parent_uplink_dot_vid_is_that_vlan_on_the_trunk() -> None:
    host = load_plan(TRUNK).lab.host("host1")
    assert [(u.ifname, u.lan, u.ip) for u in host.uplinks] == [
        ("eth0", "mgmt", ip_address("172.16.100.250")),
        ("eth0.100", "vlan100", None),
        ("eth0.200", "vlan200", None),
    ]


@pytest.mark.parametrize(
    ("lan", "ip", "parent", "message"),
    [
        ("mgmt", "172.16.100.250", "eth0.300",
         "it names VLAN 300 on uplink eth0, and no lan has vlan: 300. "
         "Add a lan with vlan: 300"),
        ("v100", "10.0.0.250", "eth0.100",
         "eth0 is on lan 'v100' (vlan 100) untagged, so VLAN 100 tagged on it would join "
         "nothing. Use parent: eth0"),
        ("mgmt", "172.16.100.250", "eth1.100",
         "which is not an uplink of host 'host1'. host1's uplinks: 'eth0'; VLAN <vid> on one "
         "of them is <uplink>.<vid>, with a lan of vlan: <vid>"),
    ],
)
def test_parent_that_names_no_vlan_of_the_lab_is_refused_with_the_spelling(
    tmp_path: Path, lan: str, ip: str, parent: str, message: str
) -> None:
    assert message in trunk_plan_errors(tmp_path, lan, ip, parent)


def run(path: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    record = tmp_path / "run.json"
    proc = netcheck("run", str(path), "--json", str(record), *extra, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(record.read_text())
    return data


def passed(data: dict[str, Any]) -> set[str]:
    return {v["expectation_id"] for v in data["verdicts"] if v["outcome"] == "pass"}


def interfaces(data: dict[str, Any], node: str) -> dict[str, str | None]:
    return {i["ifname"]: i["address"] for i in data["topology"]["nodes"][node]["interfaces"]}


def check_routed_trunk(data: dict[str, Any]) -> None:
    assert data["counts"]["pass"] == len(data["verdicts"]) == 11, data["counts"]
    # Routed, so these were probed reachable (not skipped) across VLANs and to the host.
    assert {"icmp:mactainer1->web200", "icmp:mactainer1->host1"} <= passed(data)
    assert set(interfaces(data, "host1")) == {"eth0", "eth0.100", "eth0.200"}


@pytest.mark.privileged
def test_seed_spelling_eth0_100_runs_routed_on_netns(tmp_path: Path, no_leftovers: None) -> None:
    data = run(TRUNK, tmp_path, "--runtime", "netns", "--set", "ROUTING=true")
    check_routed_trunk(data)
    # Same choice as any trunk: real 802.1q where the kernel has it (the VM tier), else
    # each VLAN its own segment.
    facts = data["facts"]
    assert facts["vlan.mode"] in {"8021q", "emulated"}
    if facts["vlan.mode"] == "8021q":
        assert facts["vlan.trunks"] == "host1:eth0[100/200]"


@pytest.mark.privileged
@pytest.mark.docker
def test_seed_spelling_eth0_100_runs_routed_on_lab_docker(
    tmp_path: Path, docker_client: Any, no_leftovers: None
) -> None:
    # The lab builds eth0.100 in host1 before its dockerd creates macvlan100 on it.
    check_routed_trunk(run(TRUNK, tmp_path, "--runtime", "docker", "--set", "ROUTING=true"))


@pytest.mark.privileged
@pytest.mark.parametrize("runtime", ["netns", pytest.param("docker", marks=pytest.mark.docker)])
def test_ip_range_hands_out_its_first_address(
    runtime: str, tmp_path: Path, request: pytest.FixtureRequest, no_leftovers: None
) -> None:
    if runtime == "docker":
        request.getfixturevalue("docker_client")
    data = run(SCENARIOS / "multihost" / "macnet32.yaml", tmp_path, "--runtime", runtime)
    assert interfaces(data, "c1") == {"eth0": "192.168.32.128"}
    assert data["counts"]["pass"] == len(data["verdicts"])
