"""The full-kernel tier end to end: real QEMU boots of a Debian kernel (scripts/install-vm.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.vm.kernel import find_kernel
from tests.helpers import ROOT
from tests.vm.conftest import VmBatch, netcheck_cli

pytestmark = [pytest.mark.vm, pytest.mark.privileged]


def _outcomes(record: dict[str, object]) -> dict[str, str]:
    verdicts = record["verdicts"]
    assert isinstance(verdicts, list)
    return {v["expectation_id"]: v["outcome"] for v in verdicts}


@pytest.mark.parametrize(
    "stem",
    ["ipvlan-l2", "ipvlan-l3", "vlan-trunk", "ipvlan210", "macvlan100-trunk",
     "docker-vlan-autocreate"],
)
def test_full_kernel_scenario_passes_inside_the_vm(vm_batch: VmBatch, stem: str) -> None:
    outcomes = _outcomes(vm_batch.record(stem))
    assert outcomes, f"{stem}: no verdicts"
    not_passed = {k: v for k, v in outcomes.items() if v != "pass"}
    assert not not_passed, f"{stem} in the VM: {not_passed}\n{vm_batch.stdout[-4000:]}"


def test_guest_ran_the_distribution_kernel_not_the_hosts(vm_batch: VmBatch) -> None:
    results = vm_batch.results()
    assert results["finished"] is True
    assert results["kernel"] == find_kernel().release
    assert results["kernel"] != os.uname().release


def test_exit_code_is_the_worst_scenarios(vm_batch: VmBatch) -> None:
    codes = {Path(r["scenario"]).stem: r["exit_code"] for r in vm_batch.results()["results"]}
    assert codes == {
        "ipvlan-l2": 0,
        "ipvlan-l3": 0,
        "vlan-trunk": 0,
        "ipvlan210": 0,
        "macvlan100-trunk": 0,
        "docker-vlan-autocreate": 0,
        "fails-on-purpose": 1,
    }
    assert vm_batch.returncode == 1, vm_batch.stderr


def test_failing_expectation_comes_back_with_its_reports(vm_batch: VmBatch) -> None:
    outcomes = _outcomes(vm_batch.record("fails-on-purpose"))
    assert outcomes == {"icmp:c1->c2": "pass", "icmp:c2->c1": "fail"}
    junit = (vm_batch.reports / "fails-on-purpose.junit.xml").read_text()
    assert "icmp:c2-&gt;c1" in junit or "icmp:c2->c1" in junit


def test_vlan_trunk_ran_on_real_8021q_devices_in_the_vm(vm_batch: VmBatch) -> None:
    facts = vm_batch.record("vlan-trunk")["facts"]
    assert facts["vlan.mode"] == "8021q", facts
    # One trunk cable each, tagged sub-interfaces on it: the router on a stick too.
    trunks = set(facts["vlan.trunks"].split(","))
    assert trunks == {"host1:trunk0[100/200/300]", "ros:trunk0[100/200]"}
    assert "vlan.emulated_because" not in facts


def test_parent_eth0_100_is_a_real_vlan_on_the_native_trunk_in_the_vm(vm_batch: VmBatch) -> None:
    record = vm_batch.record("macvlan100-trunk")
    facts = record["facts"]
    # eth0 stays the host's plain uplink (mgmt, untagged); VLANs 100/200 ride it tagged.
    assert facts["vlan.mode"] == "8021q", facts
    assert facts["vlan.trunks"] == "host1:eth0[100/200]"
    ifaces = {i["ifname"] for i in record["topology"]["nodes"]["host1"]["interfaces"]}
    assert ifaces == {"eth0", "eth0.100", "eth0.200"}


def test_docker_made_the_vlan_parent_and_removed_it_with_the_network(vm_batch: VmBatch) -> None:
    results = vm_batch.results()
    assert results["docker_error"] is None
    assert results["docker_ready_s"] is not None
    (res,) = [r for r in results["results"] if Path(r["scenario"]).stem == "docker-vlan-autocreate"]
    guest = res["guest"]
    # The guest had no trunk0.50: only the stand-in NIC trunk0; Docker made the rest.
    assert guest["stand_in_parents"] == ["trunk0"]
    assert guest["vlan_devices"] == [
        {"ifname": "trunk0.50", "vlan_id": 50, "lower": "trunk0", "left_after": False}
    ]
    facts = vm_batch.record("docker-vlan-autocreate")["facts"]
    assert facts["docker.mode"] == "host"


def test_same_ipvlan_scenario_skips_on_this_host(no_leftovers: None) -> None:
    import netcheck.runtime.netns  # noqa: F401  (first: features <-> netns import cycle)
    from netcheck.runtime.features import probe
    from netcheck.runtime.naming import new_run_id

    if probe(new_run_id()).has("ipvlan"):
        pytest.skip("this host's kernel has ipvlan: nothing to skip")
    proc = netcheck_cli(
        "run", "scenarios/vm/ipvlan-l2.yaml", "--runtime", "netns", "--no-reports",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIP" in proc.stdout
    assert "kernel lacks ipvlan" in proc.stdout
    assert "PASS" not in proc.stdout


def test_bogus_kernel_path_is_exit_3_with_a_clear_message(tmp_path: Path) -> None:
    proc = netcheck_cli(
        "vm", "run", "--reports", str(tmp_path), "--kernel", "/nonexistent/vmlinuz",
        "scenarios/vm/ipvlan-l2.yaml", timeout=60,
    )
    assert proc.returncode == 3
    assert "--kernel /nonexistent/vmlinuz: no such file" in " ".join(proc.stderr.split())


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_boot_that_cannot_finish_in_time_is_killed_with_exit_3(tmp_path: Path) -> None:
    proc = netcheck_cli(
        "vm", "run", "--reports", str(tmp_path), "--timeout", "2", "--quiet-console",
        "scenarios/vm/ipvlan-l2.yaml", timeout=60,
    )
    assert proc.returncode == 3
    assert "did not reach userspace within --timeout 2 s" in " ".join(proc.stderr.split())
    # The VM's whole process group (vng, virtme-run, QEMU) is gone: nothing uses its folder.
    assert _processes_mentioning(str(tmp_path)) == []


def test_python_module_entry_point_exists() -> None:
    # The guest runs `python -m netcheck.vm.guest`: it must refuse a wrong call, not crash.
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck.vm.guest"], cwd=ROOT, capture_output=True,
        text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "usage" in proc.stderr
