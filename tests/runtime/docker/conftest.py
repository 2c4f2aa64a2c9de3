"""Fixtures for the docker runtime: a real dockerd (started only when none answers) and the
local busybox image. A daemon this session started is stopped by its pid at the end."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ROOT


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


def nsenter(netns: str, *argv: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net={netns}", "--", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ping(netns: str, address: object, size: int | None = None) -> bool:
    argv = ["ping", "-n", "-c1", "-W1"]
    if size is not None:
        argv += ["-M", "do", "-s", str(size)]
    return nsenter(netns, *argv, str(address)).returncode == 0


def dns_query(netns: str, name: str, server: str = "127.0.0.11") -> list[str] | None:
    """A records for `name` asked of `server` from inside `netns`; None when nothing answers."""
    proc = nsenter(
        netns,
        str(ROOT / ".venv" / "bin" / "python"),
        "-I",
        str(ROOT / "tests" / "runtime" / "docker" / "dnsquery.py"),
        server,
        name,
    )
    if proc.returncode == 2:
        return None
    assert proc.returncode == 0, proc.stderr
    return [ln for ln in proc.stdout.split() if ln]


def labelled(client: Any, run_id: str) -> list[str]:
    label = f"io.netcheck.run={run_id}"
    names = [c.name for c in client.containers.list(all=True, filters={"label": label})]
    names += [n.name for n in client.networks.list(filters={"label": label})]
    return names


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)
