"""Pure parts of the guest's Docker support: no root, no Docker, no VM."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from netcheck.vm import batch
from netcheck.vm.guestdocker import (
    GuestDockerd,
    GuestNotes,
    VlanDevice,
    VlanWatch,
    base_link,
    read_vlan_config,
    scenario_need,
)

VLAN_CONFIG = """VLAN Dev name    | VLAN ID
Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD
trunk0.50      | 50  | trunk0
eth1.7         | 7  | eth1
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_real_host_docker_scenario_names_its_parents(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "s.yaml", """
runtime: docker
networks:
  a: {driver: macvlan, parent: trunk0.50}
  b: {driver: macvlan, parent: trunk0.50}
  c: {driver: ipvlan, parent: "${PARENT}"}
  d: {driver: bridge}
""")
    need = scenario_need(scenario, [])
    assert (need.docker, need.real_host, need.parents) == (True, True, ("trunk0.50",))


def test_lab_hosts_bring_their_own_daemons(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "s.yaml", """
runtime: docker
lab:
  hosts:
    remote: {docker: "ssh://x"}
    h1: {uplinks: []}
""")
    need = scenario_need(scenario, [])
    assert need.docker and not need.real_host


@pytest.mark.parametrize(
    ("yaml_text", "run_args", "docker"),
    [
        ("runtime: netns\n", [], False),
        ("name: x\n", [], False),
        ("name: x\n", ["--runtime", "docker"], True),
        ("runtime: docker\n", ["--runtime=netns"], False),
        (": not yaml : [", [], False),
        ("- a list\n", [], False),
    ],
)
def test_docker_is_needed_only_for_the_docker_runtime(
    tmp_path: Path, yaml_text: str, run_args: list[str], docker: bool
) -> None:
    assert scenario_need(_write(tmp_path / "s.yaml", yaml_text), run_args).docker is docker


def test_missing_scenario_needs_nothing(tmp_path: Path) -> None:
    assert not scenario_need(tmp_path / "nope.yaml", []).docker


@pytest.mark.parametrize(
    ("parent", "base"),
    [("trunk0.50", "trunk0"), ("eth0", "eth0"), ("a.b.7", "a.b"), ("eth0.5000", "eth0.5000"),
     ("eth0.0", "eth0.0")],
)
def test_base_link_is_the_device_docker_hangs_the_vlan_on(parent: str, base: str) -> None:
    assert base_link(parent) == base


def test_read_vlan_config(tmp_path: Path) -> None:
    got = read_vlan_config(_write(tmp_path / "config", VLAN_CONFIG))
    assert got == {"trunk0.50": (50, "trunk0"), "eth1.7": (7, "eth1")}
    assert read_vlan_config(tmp_path / "absent") == {}  # 8021q not loaded yet


def test_vlan_watch_reports_devices_that_came_and_whether_they_went(tmp_path: Path) -> None:
    header = VLAN_CONFIG.splitlines()[:2]
    config = _write(tmp_path / "config", "\n".join([*header, "old.1 | 1 | old"]) + "\n")
    watch = VlanWatch(config, interval=0.01).start()
    _write(config, "\n".join([*header, "old.1 | 1 | old", "trunk0.50 | 50 | trunk0",
                              "trunk0.60 | 60 | trunk0"]) + "\n")
    deadline = time.monotonic() + 10
    while watch.seen() != {"trunk0.50", "trunk0.60"} and time.monotonic() < deadline:
        time.sleep(0.01)
    _write(config, "\n".join([*header, "old.1 | 1 | old", "trunk0.60 | 60 | trunk0"]) + "\n")
    assert watch.stop() == (
        VlanDevice(ifname="trunk0.50", vlan_id=50, lower="trunk0", left_after=False),
        VlanDevice(ifname="trunk0.60", vlan_id=60, lower="trunk0", left_after=True),
    )


def test_guest_notes_round_trip_through_the_results_file(tmp_path: Path) -> None:
    notes = GuestNotes(
        docker=True,
        stand_in_parents=("trunk0",),
        vlan_devices=(VlanDevice(ifname="trunk0.50", vlan_id=50, lower="trunk0",
                                 left_after=False),),
    )
    res = batch.BatchResults(
        kernel="k", uptime_at_start_s=1.0, finished=True, docker_ready_s=12.5,
        results=(
            batch.ScenarioResult(scenario="a", exit_code=0, duration_s=1.0, json="a.json",
                                 junit="a.xml", guest=notes),
            batch.ScenarioResult(scenario="b", exit_code=0, duration_s=1.0, json="b.json",
                                 junit="b.xml"),
        ),
    )
    batch.write_results(res, tmp_path / "r.json")
    assert batch.read_results(tmp_path / "r.json") == res


def test_dockerd_waits_for_its_own_containerd(tmp_path: Path) -> None:
    d = GuestDockerd(tmp_path)
    dockerd = d.dockerd_argv()
    assert dockerd[dockerd.index("--containerd") + 1] == str(tmp_path / "containerd.sock")
    assert dockerd[dockerd.index("--data-root") + 1].startswith(str(tmp_path))
    containerd = d.containerd_argv()
    assert containerd[containerd.index("--address") + 1] == str(tmp_path / "containerd.sock")
    assert d.url == f"unix://{tmp_path}/docker.sock"


def test_docker_host_is_set_for_the_docker_job_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a daemon answering, `--runtime auto` would pick Docker for the netns scenarios.
    from netcheck.vm import guest
    from netcheck.vm.guestdocker import DockerNeed

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    manifest = batch.make_manifest([Path("/s/d.yaml")], tmp_path, [])
    seen: list[str | None] = []

    def fake_run(argv: Sequence[str]) -> int:
        seen.append(os.environ.get("DOCKER_HOST"))
        return 0

    need = DockerNeed(docker=True, real_host=True, parents=())  # no links touched
    res = guest.run_docker_job(manifest.jobs[0], [], fake_run, need, "unix:///x/docker.sock")
    assert seen == ["unix:///x/docker.sock"]
    assert "DOCKER_HOST" not in os.environ
    assert res.guest == GuestNotes(docker=True)
