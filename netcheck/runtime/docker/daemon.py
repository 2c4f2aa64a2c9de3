"""A dockerd of its own inside a lab host's network namespace.

Started shell-free: nsenter (net) -> unshare (uts, mount) -> _launch.py (hostname) -> dockerd.
A private mount namespace keeps the daemon's overlay and netns mounts out of the root mount
table, so a killed daemon leaves nothing mounted behind; its files still live on the shared
filesystems (the socket under /run/netcheck, data under /var/lib/netcheck).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.errors import RuntimeBuildError

log = logging.getLogger(__name__)

RUN_DIR = Path(os.environ.get("NETCHECK_RUN_DIR", "/run/netcheck"))
DATA_DIR = Path(os.environ.get("NETCHECK_DATA_DIR", "/var/lib/netcheck"))
# `netcheck vm run` raises it: under TCG two lab daemons starting at once take longer.
READY_TIMEOUT_S = float(os.environ.get("NETCHECK_DOCKERD_READY_S", "30"))
STOP_TIMEOUT_S = 5.0
_LAUNCH = Path(__file__).with_name("_launch.py")


def ping_socket(path: Path, timeout: float = 1.0) -> bool:
    """True when the Engine API answers `GET /_ping` on a unix socket (no SDK needed)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return False
    return data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0]


def _pid_alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped by us) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def pids_mentioning(marker: str) -> list[int]:
    """Pids whose command line holds `marker` (a path unique to one lab daemon)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if any(marker in arg for arg in _cmdline(int(entry.name))):
            out.append(int(entry.name))
    return out


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _pid_alive(p)]
    return alive


def kill_bounded(pids: list[int], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL what is still there after `timeout`."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in _wait_gone(pids, timeout):
        log.warning("pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(pids, 2.0)


@dataclass(slots=True, kw_only=True)
class LabDaemon:
    """One dockerd for one lab host."""

    run_id: str
    host: str
    netns: str  # path of the host's network namespace
    default_pool: str  # --default-address-pool base
    bip: str | None = None  # --bip for a default bridge; None: --bridge none
    # Bridge networks need Docker's netfilter rules (NAT out, `internal` isolation) in the
    # host's own namespace; macvlan and overlay do not, and the embedded DNS installs its
    # redirect inside each container's namespace either way (measured on Engine 20.10).
    iptables: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    ready_s: float | None = None

    @property
    def root(self) -> Path:
        return RUN_DIR / self.run_id / self.host

    @property
    def exec_root(self) -> Path:
        return self.root / "x"

    @property
    def data_root(self) -> Path:
        return DATA_DIR / self.run_id / self.host

    @property
    def sock(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    @property
    def pidfile(self) -> Path:
        return self.root / "dockerd.pid"

    @property
    def logfile(self) -> Path:
        return self.root / "dockerd.log"

    def argv(self) -> list[str]:
        ns = f"nc-{self.run_id}-{self.host}"
        dockerd = [
            "dockerd",
            "--host",
            self.url,
            "--config-file",
            str(self.root / "daemon.json"),
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "--pidfile",
            str(self.pidfile),
            f"--iptables={'true' if self.iptables else 'false'}",
            f"--ip-masq={'true' if self.iptables else 'false'}",
            "--userland-proxy=false",
            "--default-address-pool",
            f"base={self.default_pool},size=24",
            "--shutdown-timeout",
            "2",
            # Never share a system containerd's "moby" namespace with another daemon.
            "--containerd-namespace",
            ns,
            "--containerd-plugins-namespace",
            f"{ns}-plugins",
        ]
        dockerd += ["--bip", self.bip] if self.bip else ["--bridge", "none"]
        return [
            "nsenter",
            f"--net={self.netns}",
            "--",
            "unshare",
            "--uts",
            "--mount",
            "--propagation",
            "private",
            "--",
            sys.executable,
            "-I",
            str(_LAUNCH),
            self.host,
            "--",
            *dockerd,
        ]

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text(json.dumps({}))
        with self.logfile.open("ab") as logf:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C at the terminal is ours to handle, not its
                # A lab has no registry: without this a swarm task spends ~30 s "preparing"
                # on a pull that cannot succeed before it falls back to the local image.
                env={**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"},
            )
        log.debug("started dockerd for %s: pid %d", self.host, self.proc.pid)

    def _log_tail(self, n: int = 8) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Block until the daemon answers; return seconds since start."""
        assert self.proc is not None, "start() first"
        deadline = self.started_at + timeout
        while True:
            if self.sock.exists() and ping_socket(self.sock):
                self.ready_s = time.monotonic() - self.started_at
                return self.ready_s
            code = self.proc.poll()
            if code is not None:
                raise RuntimeBuildError(
                    f"dockerd for lab host {self.host!r} exited with {code}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeBuildError(
                    f"dockerd for lab host {self.host!r} did not answer within {timeout:.0f} s "
                    f"(log: {self.logfile}):\n{self._log_tail()}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the daemon by pid, then whatever it left (shims) by pid, then its files."""
        pids: list[int] = []
        if self.proc is not None and self.proc.poll() is None:
            pids.append(self.proc.pid)
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if pid not in pids and _pid_alive(pid):
                pids.append(pid)
        # nsenter and unshare exec (they do not fork), so the Popen pid is dockerd itself.
        if pids:
            kill_bounded(pids, timeout)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1.0)
        # containerd and its shims were started by this daemon and name its exec root.
        leftovers = pids_mentioning(str(self.exec_root))
        if leftovers:
            log.debug("stopping %d leftover process(es) of %s", len(leftovers), self.host)
            kill_bounded(leftovers, 2.0)
        self.remove_files()

    def remove_files(self) -> None:
        for path in (self.data_root, self.root):
            shutil.rmtree(path, ignore_errors=True)
        for parent in (self.data_root.parent, self.root.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty: the run's other hosts may still be there


def start_all(daemons: list[LabDaemon], timeout: float = READY_TIMEOUT_S) -> None:
    """Start every daemon at once and wait for all of them."""
    for d in daemons:
        d.start()
    for d in daemons:
        d.wait_ready(timeout)
