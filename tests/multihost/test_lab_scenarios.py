"""The multi-host scenarios on real lab Docker hosts (one dockerd per host namespace).

Each shipped scenario also runs green in tests/scenarios/test_shipped.py; here the runs are
checked for what makes them multi-host: a conflict named by ARP, skips with the kernel's
reason, routing both ways, and every daemon stopped by PID after a Ctrl-C.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from netcheck.runtime.docker.daemon import RUN_DIR
from tests.helpers import ROOT, netcheck_namespaces

pytestmark = [pytest.mark.privileged, pytest.mark.docker, pytest.mark.slow]

SCENARIOS = ROOT / "scenarios" / "multihost"


def run(name: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    record = tmp_path / f"{name}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "run", str(SCENARIOS / f"{name}.yaml"),
         "--json", str(record), *extra],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(record.read_text())
    return data


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["expectation_id"]: v for v in data["verdicts"]}


def test_overlapping_ranges_are_a_named_conflict_every_time(
    docker_client: Any, tmp_path: Path
) -> None:
    for _ in range(2):  # not a lucky race: the conflict shows on every run
        verdicts = by_id(run("macvlan-overlap", tmp_path))
        for vid in ("arp:c3->c1", "arp:c4->c1"):
            v = verdicts[vid]
            assert v["outcome"] == "pass", v
            assert v["result"]["observation"] == "conflict"
            assert len(set(v["result"]["answered_by"])) == 2
            finding = next(f for f in v["findings"] if f["id"] == "duplicate-ip")
            text = " ".join(finding["evidence"])
            assert "host1" in text and "host2" in text


def test_swarm_overlay_two_hosts(docker_client: Any, tmp_path: Path) -> None:
    data = run("overlay-two-hosts", tmp_path)
    verdicts = by_id(data)
    nodes = data["topology"]["nodes"]
    assert nodes["web"]["host"] == "host1" and nodes["app"]["host"] == "host2"
    assert verdicts["dns/web:app"]["outcome"] == "pass"
    assert verdicts["icmp/df/1422:app->web"]["outcome"] == "pass"
    # The legacy option: 1200 on the underlay path, 1150 inside the container.
    assert verdicts["icmp/df/1122:app->web@mynet"]["outcome"] == "pass"
    assert verdicts["icmp/df/1123:app->web@mynet"]["result"]["observation"] == "too-big"
    secure = [v for k, v in verdicts.items() if "vault" in k]
    assert secure
    from netcheck.runtime.docker.multihost import esp_missing

    if esp_missing() is not None:
        assert all(v["outcome"] == "skip" and "ESP" in v["observed"] for v in secure)
    else:
        assert all(v["outcome"] == "pass" for v in secure)


def test_trunk_routed_both_ways_with_forwarding(docker_client: Any, tmp_path: Path) -> None:
    verdicts = by_id(run("trunk-bridge", tmp_path, "--set", "FORWARD=true"))
    assert verdicts["icmp:macvlan_test5->macvlan_test7"]["outcome"] == "pass"
    assert verdicts["icmp:macvlan_test8->macvlan_test6"]["outcome"] == "pass"
    isolated = by_id(run("trunk-bridge", tmp_path))["icmp:macvlan_test5->macvlan_test7"]
    assert isolated["result"]["observation"] != "answered"
    assert any(f["id"] == "no-forwarding" for f in isolated["findings"])


def _lab_daemon_pids(run_id: str) -> list[int]:
    pids = []
    for pidfile in (RUN_DIR / run_id).glob("*/dockerd.pid"):
        try:
            pids.append(int(pidfile.read_text().strip()))
        except (OSError, ValueError):
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def test_ctrl_c_during_a_two_host_build_stops_every_daemon(
    docker_client: Any, tmp_path: Path
) -> None:
    before = netcheck_namespaces()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcheck", "run", str(SCENARIOS / "overlay-two-hosts.yaml"),
         "--json", str(tmp_path / "x.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()  # "netcheck NAME: run ID, runtime docker, ..."
        run_id = first.split(": run ", 1)[1].split(",", 1)[0].strip()
        pids: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(pids) < 2:
            pids = _lab_daemon_pids(run_id)
            time.sleep(0.05)
        assert len(pids) == 2, "both lab daemons should be up"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert not [p for p in pids if _alive(p)], f"lab dockerd left running: {pids}"
    left = {n for n in netcheck_namespaces() - before if f"-{run_id}-" in n}
    assert not left, left
    assert not (RUN_DIR / run_id).exists()
