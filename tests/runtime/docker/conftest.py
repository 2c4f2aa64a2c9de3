"""Fixtures for the docker runtime: a real dockerd (started only when none answers) and the
local busybox image. A daemon this session started is stopped by its pid at the end."""

from __future__ import annotations

import ipaddress
import subprocess
from typing import Any

from tests.helpers import ROOT


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
