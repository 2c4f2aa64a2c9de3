"""Shared fixtures: root checks and a view of the machine's netcheck namespaces."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ROOT, dead_run_namespaces, netcheck_namespaces


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fail the test if it leaves any netcheck namespace behind."""
    before = netcheck_namespaces()
    yield
    left = dead_run_namespaces(netcheck_namespaces() - before)
    assert not left, f"leftover namespaces: {sorted(left)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: builds namespaces and sends raw packets")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)


def _stop_pid(pid: int, timeout: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("needs root to run dockerd")
    proc = subprocess.run(
        [str(ROOT / "scripts" / "start-dockerd.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"start-dockerd.sh failed: {proc.stderr.strip()}")
    last = proc.stdout.strip().splitlines()[-1]
    started = int(last.split()[1]) if last.startswith("started ") else None
    yield
    if started is not None:
        _stop_pid(started)


@pytest.fixture(scope="session")
def docker_client(dockerd: None) -> Iterator[Any]:
    import docker

    from netcheck.image import ensure_image

    client = docker.from_env(version="auto")
    ensure_image(client)
    yield client
    client.close()
