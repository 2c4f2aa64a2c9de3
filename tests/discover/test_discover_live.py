"""`netcheck discover` on a real Docker host end to end: the test setup creates unlabelled
`--internal` networks and containers on the local daemon (no packet leaves the machine);
discover writes a scenario that validates and passes, a second discover writes the same
bytes, and a change (a container disconnected) makes `run --baseline` exit 1 naming it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discover.existing import existing_host
from tests.helpers import netcheck

pytestmark = [pytest.mark.privileged, pytest.mark.docker, pytest.mark.slow]


def _others(client: Any, mine: set[str]) -> list[str]:
    """--exclude for whatever else is on the shared daemon, so the test sees only its own."""
    names = {n["Name"] for n in client.api.networks()}
    names |= {c["Names"][0].lstrip("/") for c in client.api.containers(all=True)}
    return [arg for n in sorted(names - mine - {"bridge", "host", "none"})
            for arg in ("--exclude", n)]


def _state(client: Any, names: tuple[str, ...]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    out = {}
    for name in names:
        c = client.containers.get(name)
        out[name] = (c.id, c.status, tuple(sorted(c.attrs["NetworkSettings"]["Networks"])))
    return out


def test_discover_run_rediscover_then_a_change_is_caught(
    docker_client: Any, tmp_path: Path
) -> None:
    with existing_host(docker_client) as host:
        mine = {*host.networks, *host.containers}
        exclude = _others(docker_client, mine)
        first = tmp_path / "discovered.yaml"
        made = netcheck("discover", "-o", str(first), *exclude, cwd=tmp_path)
        assert made.returncode == 0, made.stdout + made.stderr
        text = first.read_text()
        data = yaml.safe_load(text)
        assert set(data["networks"]) == set(host.networks)  # bridge: no container on it
        assert set(data["endpoints"]) == set(host.containers)
        assert all(e == {"container": n} for n, e in data["endpoints"].items())
        assert f"{host.multi_homed}@{host.networks[0]}" in text  # the pinned target
        assert "0 do not" in made.stderr

        valid = netcheck("validate", str(first), cwd=tmp_path)
        assert valid.returncode == 0, valid.stdout + valid.stderr
        before = _state(docker_client, host.containers)
        base = tmp_path / "base.json"
        ran = netcheck("run", str(first), "--save-baseline", str(base), "--no-reports",
                       cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert _state(docker_client, host.containers) == before  # only read, never touched

        second = tmp_path / "again.yaml"
        again = netcheck("discover", "-o", str(second), *exclude, cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert second.read_bytes() == first.read_bytes()

        # The change: one container leaves its network, as `docker network disconnect` does.
        gone = host.containers[1]
        docker_client.networks.get(host.networks[0]).disconnect(gone)
        after = netcheck("run", str(first), "--baseline", str(base), "--no-reports",
                         cwd=tmp_path)
        assert after.returncode == 1, after.stdout + after.stderr
        out = after.stdout
        assert "regression" in out
        broken = [line for line in out.splitlines() if "newly broken" in line]
        assert broken and all(gone in line for line in broken), out
        assert f"icmp:{host.containers[0]}->{gone}" in out or \
            f"icmp:{gone}->{host.containers[2]}" in out, out

        # Rediscovering the changed host writes the host as it is now: the container is
        # gone from that network's checks, and nothing it no longer promises fails.
        third = tmp_path / "changed.yaml"
        changed = netcheck("discover", "-o", str(third), *exclude, cwd=tmp_path)
        assert changed.returncode == 0, changed.stdout + changed.stderr
        assert third.read_bytes() != first.read_bytes()


def test_a_promise_broken_now_stays_written_and_run_fails_on_exactly_it(
    docker_client: Any, tmp_path: Path
) -> None:
    with existing_host(docker_client, sizes=(2,)) as host:
        exclude = _others(docker_client, {*host.networks, *host.containers})
        deaf = host.containers[1]
        pid = docker_client.containers.get(deaf).attrs["State"]["Pid"]
        # The user's "misconfiguration": the container drops every ICMP it is sent.
        subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "iptables", "-A", "INPUT",
                        "-p", "icmp", "-j", "DROP"], check=True)
        path = tmp_path / "discovered.yaml"
        made = netcheck("discover", "-o", str(path), *exclude, cwd=tmp_path)
        assert made.returncode == 1, made.stdout + made.stderr
        broken = f"icmp:{host.containers[0]}->{deaf}"
        assert f"fails now {broken}" in made.stderr.replace("\n", " ")
        text = path.read_text()
        assert f"# FAILS NOW {broken}: expected reachable, observed silent" in text
        # The promise is still the spec; the fault is only a comment beside it.
        assert "mesh: [" in text and f"{deaf}]" in text
        assert f"#   - {{from: {host.containers[0]}, to: {deaf}, probe: icmp, " \
               "reachable: false" in text.replace("  # - ", "#   - ")
        report = tmp_path / "run.json"
        ran = netcheck("run", str(path), "--json", str(report), cwd=tmp_path)
        assert ran.returncode == 1, ran.stdout + ran.stderr
        verdicts = json.loads(report.read_text())["verdicts"]
        failed = {v["expectation_id"] for v in verdicts if v["outcome"] != "pass"}
        assert failed == {broken}, ran.stdout
        assert len(verdicts) > 1
