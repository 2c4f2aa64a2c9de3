"""Privileged: two small real labs, built by the netns runtime from one scenario with one
variable changed, snapshotted as a run snapshots them; the diff must name exactly what the
variable changed (a policy rule, a table's route, a static neighbour, an extra address, a
VXLAN device's vni/port/remote, a switch port's hairpin or carrier) and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.baseline.diff import diff_snapshots
from netcheck.baseline.snapshot import ROOT, HostSnapshot, snapshot_topology
from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.naming import new_run_id
from netcheck.runtime.netns import NetnsRuntime
from netcheck.scenario import load_plan

pytestmark = pytest.mark.privileged

LAB = """\
name: snapdiff
description: one host with each issue-12 knob, changed one variable at a time
lab:
  lans:
    lan: {subnet: 10.96.0.0/24, gateway: 10.96.0.1}
  router: {}
  hosts:
    h1:
      uplinks:
        - ifname: eth0
          lan: lan
          ip: 10.96.0.11
          hairpin: ${HAIRPIN:-false}
          state: ${STATE:-up}
      rules:
        - from: ${RULE_FROM:-10.96.0.11}
          table: 100
          priority: 100
      tables: {100: ["default via ${VIA:-10.96.0.1} dev eth0"]}
      addresses: ["${EXTRA:-192.0.2.53}/32 dev lo"]
      neighbours: [{ip: 10.96.0.50, mac: "${MAC:-02:00:5e:10:00:99}", permanent: true}]
      vxlan:
        vx42:
          vni: ${VNI:-42}
          remote: ${REMOTE:-h2}
          port: ${PORT:-4789}
    h2:
      uplinks: [{ifname: eth0, lan: lan, ip: 10.96.0.12}]
    h3:
      uplinks: [{ifname: eth0, lan: lan, ip: 10.96.0.13}]
expectations:
  - from: h1
    to: h2
    probe: icmp
"""


def _snapshot(path: Path, sets: dict[str, str]) -> HostSnapshot:
    """Build the lab, snapshot it as `--save-baseline` does (without the machine's own
    namespace: other programs change it meanwhile), tear it down."""
    runtime = NetnsRuntime(RuntimeOptions(run_id=new_run_id()))
    try:
        built = runtime.build(load_plan(path, sets), lambda _msg: None)
        return snapshot_topology(built.topology, root=False)
    finally:
        runtime.teardown()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapdiff") / "lab.yaml"
    path.write_text(LAB)
    return path


@pytest.fixture(scope="module")
def base(lab: Path) -> HostSnapshot:
    return _snapshot(lab, {})


def changes(base: HostSnapshot, lab: Path, **sets: str) -> list[str]:
    after = _snapshot(lab, sets)
    return [c.text for c in diff_snapshots(base, after) if c.namespace != ROOT]


@pytest.fixture(scope="module")
def same(base: HostSnapshot, lab: Path) -> Iterator[list[str]]:
    yield changes(base, lab)


def test_the_lab_switch_is_snapshotted_with_its_ports_hairpin(base: HostSnapshot) -> None:
    ports = base.namespaces["lab switch"].links
    assert {name: attrs.get("hairpin") for name, attrs in ports.items()
            if attrs.get("master") == "lan"} == {
        "router-lan": "off", "h1-eth0": "off", "h2-eth0": "off", "h3-eth0": "off"}


def test_two_identical_labs_diff_clean(same: list[str]) -> None:
    assert same == []


def test_a_changed_rule_is_named(base: HostSnapshot, lab: Path) -> None:
    assert sorted(changes(base, lab, RULE_FROM="10.96.0.12")) == [
        "h1: rule added: 100: from 10.96.0.12/32 lookup 100",
        "h1: rule removed: 100: from 10.96.0.11/32 lookup 100",
    ]


def test_a_changed_table_route_is_named(base: HostSnapshot, lab: Path) -> None:
    assert sorted(changes(base, lab, VIA="10.96.0.13")) == [
        "h1: route added: default via 10.96.0.13 dev eth0 table 100 proto static",
        "h1: route removed: default via 10.96.0.1 dev eth0 table 100 proto static",
    ]


def test_a_changed_neighbour_entry_is_named(base: HostSnapshot, lab: Path) -> None:
    assert sorted(changes(base, lab, MAC="02:00:5e:10:00:98")) == [
        "h1: neighbour added: 10.96.0.50 dev eth0 lladdr 02:00:5e:10:00:98 PERMANENT",
        "h1: neighbour removed: 10.96.0.50 dev eth0 lladdr 02:00:5e:10:00:99 PERMANENT",
    ]


def test_a_changed_extra_address_is_named(base: HostSnapshot, lab: Path) -> None:
    assert changes(base, lab, EXTRA="192.0.2.54") == [
        "h1: address on lo changed: added 192.0.2.54/32; removed 192.0.2.53/32",
    ]


def test_a_changed_vxlan_device_names_vni_port_and_remote(base: HostSnapshot,
                                                          lab: Path) -> None:
    assert changes(base, lab, VNI="43", PORT="8472", REMOTE="h3") == [
        "h1: link vx42 changed: dstport 4789 -> 8472, remote 10.96.0.12 -> 10.96.0.13, "
        "vni 42 -> 43",
    ]


def test_a_switch_port_that_hairpins_is_named(base: HostSnapshot, lab: Path) -> None:
    assert changes(base, lab, HAIRPIN="true") == [
        "lab switch: link h1-eth0 changed: hairpin off -> on",
    ]


def test_an_unplugged_switch_port_is_named(base: HostSnapshot, lab: Path) -> None:
    # The host's end loses its carrier with it; the link-local address and route the port
    # loses are no change of their own.
    assert sorted(changes(base, lab, STATE="no-carrier")) == [
        "h1: link eth0 changed: state UP -> DOWN",
        "lab switch: link h1-eth0 changed: state UP -> DOWN",
    ]
