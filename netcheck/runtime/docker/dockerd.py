"""The one dockerd launcher: lab hosts (daemon.py) and the VM guest (vm/guestdocker.py) use it.

A daemon is started shell-free from an argument list, in a session of its own (a Ctrl-C at
the terminal is ours to handle, not its), its output appended to a log file. Ready means its
socket answers; stopped means by PID, then whatever it started (containerd, shims: they name
the daemon's folders on their command lines), also by PID.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
_POLL_S = 0.02


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


def socket_connects(path: Path, timeout: float = 1.0) -> bool:
    """True when something accepts on a unix socket (containerd speaks gRPC, not HTTP/1)."""
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
    except OSError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped by us) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def pids_mentioning(*markers: str) -> list[int]:
    """Pids (not ours) whose command line holds any of `markers` (paths unique to one
    daemon each): one pass over /proc however many daemons are asked about."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if any(m in arg for arg in cmdline(int(entry.name)) for m in markers):
            out.append(int(entry.name))
    return out


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until every pid is gone or `timeout` passed: the pids still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def kill_bounded(pids: Sequence[int], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL what is still there after `timeout`."""
    signal_all(pids, signal.SIGTERM)
    for pid in wait_gone(pids, timeout):
        log.warning("pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
        signal_all([pid], signal.SIGKILL)
    wait_gone(pids, 2.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerdArgs:
    """The dockerd options both kinds of daemon set; `extra` holds what only one needs."""

    sock: Path
    data_root: Path
    exec_root: Path
    pidfile: Path
    config_file: Path
    # No NAT or firewall rules unless a bridge network needs them (lab hosts decide).
    iptables: bool = False
    containerd: Path | None = None  # a containerd started apart; None: dockerd starts its own
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def argv(self) -> list[str]:
        flag = "true" if self.iptables else "false"
        argv = [
            "dockerd",
            "--host", self.url,
            "--config-file", str(self.config_file),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile),
            f"--iptables={flag}",
            f"--ip-masq={flag}",
            "--userland-proxy=false",
            "--shutdown-timeout", "2",
        ]  # fmt: skip
        if self.containerd is not None:
            argv += ["--containerd", str(self.containerd)]
        return argv + list(self.extra)


class Launched:
    """One daemon process this program started (dockerd, or a containerd started apart)."""

    def __init__(
        self,
        what: str,
        argv: Sequence[str],
        logfile: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.what = what
        self.logfile = logfile
        with logfile.open("ab") as logf:
            self.started_at = time.monotonic()
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(env) if env is not None else None,
            )
        log.debug("started %s: pid %d", what, self.proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, n: int = 8) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def wait_until(
        self,
        ok: Callable[[], bool],
        deadline: float,
        fail: Callable[[str], Exception],
        poll: float = _POLL_S,
    ) -> float:
        """Poll `ok` until it holds: seconds since the start. `fail(message)` is raised when
        the process exits first or the monotonic `deadline` passes."""
        while not ok():
            code = self.proc.poll()
            if code is not None:
                raise fail(f"{self.what} exited with {code}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                limit = deadline - self.started_at
                raise fail(
                    f"{self.what} did not answer within {limit:.0f} s "
                    f"(log: {self.logfile}):\n{self.log_tail()}"
                )
            time.sleep(poll)
        return time.monotonic() - self.started_at

    def running(self) -> bool:
        return self.proc.poll() is None

    def reap(self, timeout: float = 1.0) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, SIGKILL after `timeout`; then reap it."""
        if self.running():
            kill_bounded([self.pid], timeout)
        self.reap()


def sweep_leftovers(*markers: str, timeout: float = 2.0) -> list[int]:
    """Stop what stopped daemons left running (containerd, shims) by PID: their pids."""
    leftovers = pids_mentioning(*markers)
    if leftovers:
        log.debug("stopping %d leftover process(es) naming %s", len(leftovers), markers)
        kill_bounded(leftovers, timeout)
    return leftovers
