"""Every scenario shipped under scenarios/ validates, and runs green where it can run here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.errors import ScenarioErrors
from netcheck.scenario import load_plan
from tests.helpers import ROOT

ALL = sorted((ROOT / "scenarios").rglob("*.yaml"))


def runtime_of(path: Path) -> str | None:
    """What the scenario asks for: docker (overlay, Docker's DNS, bridge NAT), netns, or
    None for either."""
    try:
        return load_plan(path).runtime
    except ScenarioErrors:
        return "invalid"  # test_validates reports it; one bad file must not hide the others


def adopts(path: Path) -> bool:
    """It names networks or containers that must already exist on a Docker host: run
    against a host holding them (tests/runtime/docker/test_adopt_live.py), not here."""
    try:
        return bool(load_plan(path).adopted())
    except ScenarioErrors:
        return False


RUNTIME = {p: runtime_of(p) for p in ALL if "vm" not in p.parts and not adopts(p)}
DOCKER = [p for p, r in RUNTIME.items() if r == "docker"]
NETNS = [p for p, r in RUNTIME.items() if r in (None, "netns")]
EITHER = [p for p, r in RUNTIME.items() if r is None]


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT / "scenarios")) for p in paths]


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_validates(path: Path) -> None:
    plan = load_plan(path)
    assert plan.expectations, f"{path} expects nothing"


def run(path: Path, runtime: str, tmp_path: Path) -> dict[str, Any]:
    record = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "run", str(path), "--runtime", runtime,
         "--json", str(record)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(record.read_text())
    return data


def assert_honest(data: dict[str, Any]) -> None:
    """Skips carry a reason; expected-unreachable passes come from a probe that went out."""
    for v in data["verdicts"]:
        if v["outcome"] == "skip":
            assert v["observed"], v
        if v["outcome"] == "pass":
            assert v["result"]["observation"] != "error", v


@pytest.mark.privileged
@pytest.mark.parametrize("path", NETNS, ids=ids(NETNS))
def test_runs_green_on_netns(path: Path, tmp_path: Path, no_leftovers: None) -> None:
    assert_honest(run(path, "netns", tmp_path))


@pytest.mark.privileged
@pytest.mark.docker
@pytest.mark.parametrize("path", DOCKER + EITHER, ids=ids(DOCKER + EITHER))
def test_runs_green_on_docker(
    path: Path, tmp_path: Path, docker_client: Any, no_leftovers: None
) -> None:
    assert_honest(run(path, "docker", tmp_path))
