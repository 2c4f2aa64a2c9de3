"""`netcheck doctor --host ssh://…` through testinfra's ssh backend, against a real sshd.

The "remote" is the server namespace of the remote lab (tests/multihost/remotelab.py), made
to differ from the client namespace doctor runs in: only it forwards, it has an extra route, and
its ssh sessions reach the lab's dockerd. Each value doctor prints must be the remote's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multihost.remotelab import SERVER_IP, RemoteLab
from tests.multihost.sshd import SshServer, netcheck_in, ssh_remote_lab, wrong_client

REMOTE_ONLY_ROUTE = "10.97.5.0/24"
SCENARIO = f"""
name: doctor-ssh
runtime: docker
lab:
  hosts:
    far: {{docker: "URL"}}
networks:
  n1:
    driver: bridge
    subnets: [{{subnet: {REMOTE_ONLY_ROUTE}}}]
endpoints:
  c1: {{host: far, networks: [n1]}}
  c2: {{host: far, networks: [n1]}}
expectations:
  - {{from: c1, to: c2, probe: icmp}}
"""


@pytest.fixture
def ssh_lab(tmp_path: Path) -> Iterator[tuple[RemoteLab, SshServer]]:
    with ssh_remote_lab(tmp_path / "sshd") as (lab, server):
        ns = os.path.basename(lab.server_netns)
        subprocess.run(["ip", "-n", ns, "route", "add", REMOTE_ONLY_ROUTE, "dev", "eth0"],
                       check=True, capture_output=True, timeout=10)
        # New namespaces may inherit the root's value (devconf_inherit_init_net): set both.
        for netns, value in ((lab.server_netns, "1"), (lab.client_netns, "0")):
            subprocess.run(["nsenter", f"--net={netns}", "--", sys.executable, "-c",
                            f"open('/proc/sys/net/ipv4/ip_forward', 'w').write('{value}')"],
                           check=True, capture_output=True, timeout=30)
        yield lab, server


def _doctor(lab: RemoteLab, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # No daemon answers on this side: a passing docker check can only be the remote's.
    proc = netcheck_in(lab, env, "doctor", *args, timeout=180)
    proc.stdout = " ".join(proc.stdout.split())
    return proc


@pytest.mark.privileged
@pytest.mark.docker
@pytest.mark.slow
def test_doctor_over_ssh_reports_the_remote_side(
    ssh_lab: tuple[RemoteLab, SshServer], tmp_path: Path
) -> None:
    lab, server = ssh_lab
    env = server.client.env()
    before = set(os.listdir("/run/netns"))
    remote = _doctor(lab, env, "--host", server.url)
    assert remote.returncode == 0, remote.stdout + remote.stderr
    local = _doctor(lab, env)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "pass docker: Docker Engine" in remote.stdout, remote.stdout
    assert "pass docker:" not in local.stdout  # nothing answers on this side
    assert "net.ipv4.ip_forward = 1" in remote.stdout
    assert "net.ipv4.ip_forward = 0" in local.stdout
    for item in ("pass kernel:", "pass link:macvlan:", "sysctl:rp_filter:", "kernel:esp:"):
        assert item in remote.stdout, remote.stdout
    # The scratch namespace of the link-kind probe is gone again on the remote side.
    assert not [n for n in set(os.listdir("/run/netns")) - before if n.endswith("-probe")]
    assert "Accepted publickey for root from 10.99.0.2" in server.log.read_text()

    # With a scenario: its subnet overlaps a route that only the remote host has.
    scenario = tmp_path / "doctor-ssh.yaml"
    scenario.write_text(SCENARIO.replace("URL", server.url))
    remote = _doctor(lab, env, str(scenario), "--host", server.url)
    assert remote.returncode == 3, remote.stdout + remote.stderr
    assert (f"fail overlap:{REMOTE_ONLY_ROUTE}: network n1 {REMOTE_ONLY_ROUTE} overlaps "
            f"this host's route(s) {REMOTE_ONLY_ROUTE}") in remote.stdout, remote.stdout
    local = _doctor(lab, env, str(scenario))
    assert f"overlap:{REMOTE_ONLY_ROUTE}" not in local.stdout


@pytest.mark.privileged
@pytest.mark.docker
def test_doctor_over_ssh_with_a_wrong_key_is_a_clear_error(
    ssh_lab: tuple[RemoteLab, SshServer], tmp_path: Path
) -> None:
    lab, server = ssh_lab
    wrong = wrong_client(tmp_path)
    proc = _doctor(lab, wrong.env(), "--host", server.url)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    text = " ".join(proc.stderr.split())
    assert f"doctor: cannot log in to {server.url} over ssh" in text, text
    assert "Permission denied (publickey)" in text
    assert f"ssh -o BatchMode=yes root@{SERVER_IP} true" in text
    assert "Traceback" not in text and proc.stdout == ""  # no check ran
