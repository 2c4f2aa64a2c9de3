"""Two runs of the same scenario at once.

netns: each run builds its own namespaces (`nc-<runid>-*`), so both succeed and see the
same thing. docker in real-host mode: both want the same subnet on the one daemon, so the
second must be refused with a clear error while the first carries on unharmed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from netcheck.errors import EXIT_ENVIRONMENT
from tests.reliability import runs
from tests.reliability.inventory import Item

pytestmark = pytest.mark.privileged

REAL_HOST = """\
name: nctest-concurrent
runtime: docker
networks:
  nctestnet:
    driver: bridge
    subnets:
      - subnet: 10.251.77.0/24
endpoints:
  c1: {networks: [nctestnet]}
  c2: {networks: [nctestnet]}
expectations:
  - mesh: [c1, c2]
    probe: icmp
"""


def _observations(report: Path) -> dict[str, str]:
    record = json.loads(report.read_text())
    return {v["expectation_id"]: v["result"]["observation"] for v in record["verdicts"]}


def test_two_netns_runs_at_once(tmp_path: Path, clean_machine: frozenset[Item]) -> None:
    reports = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [
        runs.cli(runs.QUICKSTART, "--runtime", "netns", "--json", str(r)) for r in reports
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-2000:] + err[-2000:]
    a, b = (_observations(r) for r in reports)
    assert a == b
    ids = {json.loads(r.read_text())["run_id"] for r in reports}
    assert len(ids) == 2, "two runs shared a run id"


@pytest.mark.docker
def test_second_real_host_run_is_refused(
    tmp_path: Path, clean_machine: frozenset[Item], dockerd: None, docker_client: object
) -> None:
    scenario = tmp_path / "concurrent.yaml"
    scenario.write_text(REAL_HOST)
    first_report = tmp_path / "first.json"
    # A long timeout keeps the first run's network on the daemon while the second starts.
    first = runs.cli(scenario, "--runtime", "docker", "--timeout", "4",
                     "--json", str(first_report))
    try:
        assert runs.wait_for(lambda: _has_network(docker_client), 60), "no network appeared"
        second = runs.cli(scenario, "--runtime", "docker", "--timeout", "1")
        out2, err2 = second.communicate(timeout=120)
        out1, err1 = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert second.returncode == EXIT_ENVIRONMENT, out2 + err2
    assert "overlap" in err2 and "10.251.77.0/24" in err2, err2
    assert "nothing was created" in err2
    assert first.returncode == 0, out1[-2000:] + err1[-2000:]
    assert set(_observations(first_report).values()) == {"answered"}


def _has_network(client: object) -> bool:
    nets = client.api.networks()  # type: ignore[attr-defined]
    return any(n["Name"].endswith("-nctestnet") for n in nets)


@pytest.mark.docker
def test_real_host_runs_started_together(
    tmp_path: Path, clean_machine: frozenset[Item], dockerd: None
) -> None:
    """Started in the same instant, both may pass the conflict check before either has
    created its network: then Docker's own IPAM refuses the second. Either way exactly one
    run is refused, with a clear error, and the other passes."""
    scenario = tmp_path / "concurrent.yaml"
    scenario.write_text(REAL_HOST)
    procs = [runs.cli(scenario, "--runtime", "docker", "--timeout", "2") for _ in range(2)]
    t0 = time.monotonic()
    outs = [p.communicate(timeout=180) for p in procs]
    codes = sorted(p.returncode for p in procs)
    detail = "\n".join(o[-1500:] + e[-1500:] for o, e in outs)
    assert time.monotonic() - t0 < 180
    assert codes in ([0, EXIT_ENVIRONMENT], [0, 0]), detail
    if codes == [0, EXIT_ENVIRONMENT]:
        refused = next(e for p, (_o, e) in zip(procs, outs, strict=True) if p.returncode)
        assert "10.251.77.0/24" in refused or "overlap" in refused.lower(), refused
