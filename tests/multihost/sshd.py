"""A real OpenSSH server for tests, inside a lab namespace and nowhere else.

- listens only on the lab address inside the namespace it is started in (nsenter --net);
- its host key, the client's key pair, authorized_keys, config and pid file live in a
  temporary directory; no PAM, no passwords;
- every session gets DOCKER_HOST (sshd_config SetEnv), so `docker system dial-stdio` on
  the "remote" side reaches the lab's dockerd, not this machine's own;
- started and stopped by PID (its session processes too).

The client side is a `ssh` wrapper first on PATH that adds `-F <private ssh_config>`: the
stand-in for a user's ~/.ssh/config (key, known_hosts with accept-new), which the docker
SDK path and testinfra's ssh backend both honour the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from netcheck.runtime.docker.dockerd import kill_bounded
from tests.helpers import ROOT
from tests.multihost.remotelab import SERVER_IP, RemoteLab, remote_lab

SSHD = Path("/usr/sbin/sshd")
READY_TIMEOUT_S = 15.0
PORT = 22
NO_LOCAL_DOCKER = "unix:///nonexistent/docker.sock"


def require_tools() -> None:
    """Fail (not skip): scripts/setup.sh installs these on every CI machine."""
    missing = [str(p) for p in (SSHD,) if not os.access(p, os.X_OK)]
    missing += [t for t in ("ssh", "ssh-keygen", "docker") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/setup.sh "
                    "(openssh-server, openssh-client) and scripts/install-docker.sh")


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True, capture_output=True, timeout=30)
    return path


@dataclass(frozen=True, slots=True)
class SshClientSetup:
    config: Path
    bin_dir: Path

    def env(self) -> dict[str, str]:
        """This process's environment with the wrapper `ssh` first on PATH."""
        return {**os.environ, "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '')}"}


def client_setup(where: Path, identity: Path) -> SshClientSetup:
    """A private ssh_config (this key only, throwaway known_hosts, accept-new) and a
    wrapper `ssh` that uses it."""
    where.mkdir(parents=True, exist_ok=True)
    config = where / "ssh_config"
    config.write_text(
        "Host *\n"
        f"  IdentityFile {identity}\n"
        "  IdentitiesOnly yes\n"
        "  IdentityAgent none\n"
        f"  UserKnownHostsFile {where / 'known_hosts'}\n"
        "  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking accept-new\n"
        "  LogLevel ERROR\n"
        "  ControlMaster no\n"
        "  ControlPath none\n"
    )
    bin_dir = where / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ssh"
    ssh = shutil.which("ssh") or "/usr/bin/ssh"
    wrapper.write_text(f'#!/bin/sh\nexec {ssh} -F {config} "$@"\n')
    wrapper.chmod(0o755)
    return SshClientSetup(config=config, bin_dir=bin_dir)


@dataclass(frozen=True, slots=True)
class SshServer:
    netns: str
    address: str
    pid: int
    client_key: Path
    client: SshClientSetup
    log: Path

    @property
    def url(self) -> str:
        return f"ssh://root@{self.address}"


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (sshd's per-connection processes and their sessions)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _wait_listening(proc: subprocess.Popen[bytes], log: Path, address: str) -> None:
    want = f"Server listening on {address} port {PORT}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if want in text:
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"sshd did not come up (exit {proc.poll()}):\n{text[-2000:]}")
        time.sleep(0.05)


@contextlib.contextmanager
def sshd(netns: str, address: str, docker_host: str, tmp: Path) -> Iterator[SshServer]:
    """sshd in namespace `netns` (a /run/netns path) on `address`:22 only."""
    require_tools()
    tmp.mkdir(parents=True, exist_ok=True)
    host_key = keygen(tmp / "host_ed25519", "nctest-host")
    client_key = keygen(tmp / "id_ed25519", "nctest-client")
    authorized = tmp / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    config = tmp / "sshd_config"
    config.write_text(
        f"ListenAddress {address}:{PORT}\n"
        f"HostKey {host_key}\n"
        f"PidFile {tmp / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\n"
        "AllowUsers root\n"
        # The key files live under /tmp (world-writable): the path checks would refuse them.
        "StrictModes no\n"
        "X11Forwarding no\n"
        "AllowTcpForwarding no\n"
        "AllowAgentForwarding no\n"
        "PermitTTY no\n"
        "PrintMotd no\n"
        # netcheck opens several connections at once (parallel container creation).
        "MaxStartups 64:30:128\n"
        f"SetEnv DOCKER_HOST={docker_host}\n"
    )
    # sshd's privilege-separation directory; the package's service would make it at boot.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = tmp / "sshd.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as out:
            # nsenter execs sshd (no fork), so this pid is sshd's; -D: no daemonising.
            proc = subprocess.Popen(
                ["nsenter", f"--net={netns}", "--", str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_listening(proc, log, address)
        here = os.stat(f"/proc/{proc.pid}/ns/net").st_ino
        assert here == os.stat(netns).st_ino, "sshd is not in the lab namespace"
        assert here != os.stat("/proc/self/ns/net").st_ino, "sshd is in the test's namespace"
        yield SshServer(netns=netns, address=address, pid=proc.pid, client_key=client_key,
                        client=client_setup(tmp / "client", client_key), log=log)
    finally:
        if proc is not None:
            sessions = _children(proc.pid)
            if sessions:
                kill_bounded(sessions, 5.0)
            kill_bounded([proc.pid], 5.0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)


@contextlib.contextmanager
def ssh_remote_lab(tmp: Path) -> Iterator[tuple[RemoteLab, SshServer]]:
    """The remote lab (its dockerd in the server namespace) with this sshd in front of it."""
    with remote_lab() as lab, sshd(lab.server_netns, SERVER_IP, lab.daemon.url, tmp) as server:
        yield lab, server


def wrong_client(tmp: Path) -> SshClientSetup:
    """A client setup with a key the server does not know."""
    return client_setup(tmp / "wrong", keygen(tmp / "wrong_ed25519", "nctest-wrong"))


def netcheck_in(lab: RemoteLab, env: dict[str, str], *args: str,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m netcheck ARGS` in the lab's client namespace, with DOCKER_HOST pointing
    nowhere: whatever Docker answers must have come through the ssh:// URL."""
    return subprocess.run(
        ["nsenter", f"--net={lab.client_netns}", "--", sys.executable, "-m", "netcheck",
         *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False,
        env={**env, "DOCKER_HOST": NO_LOCAL_DOCKER, "COLUMNS": "200"},
    )
