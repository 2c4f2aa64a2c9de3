"""A dockerd of its own inside a lab host's network namespace.

Started shell-free: nsenter (net) -> unshare (uts, mount) -> _launch.py (hostname) -> dockerd
(through the shared launcher, dockerd.py). A private mount namespace keeps the daemon's
overlay and netns mounts out of the root mount table, so a killed daemon leaves nothing
mounted behind; its files still live on the shared filesystems (the socket under
/run/netcheck, data under /var/lib/netcheck).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.errors import RuntimeBuildError
from netcheck.runtime.docker.dockerd import (
    STOP_TIMEOUT_S,
    DockerdArgs,
    Launched,
    kill_bounded,
    pid_alive,
    pids_mentioning,
    ping_socket,
    signal_all,
    sweep_leftovers,
    wait_gone,
)

log = logging.getLogger(__name__)

RUN_DIR = Path(os.environ.get("NETCHECK_RUN_DIR", "/run/netcheck"))
DATA_DIR = Path(os.environ.get("NETCHECK_DATA_DIR", "/var/lib/netcheck"))
# `netcheck vm run` raises it: under TCG two lab daemons starting at once take longer.
READY_TIMEOUT_S = float(os.environ.get("NETCHECK_DOCKERD_READY_S", "30"))
_LAUNCH = Path(__file__).with_name("_launch.py")


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
    launched: Launched | None = field(default=None, repr=False)
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

    def dockerd_args(self) -> DockerdArgs:
        ns = f"nc-{self.run_id}-{self.host}"
        extra = [
            "--default-address-pool", f"base={self.default_pool},size=24",
            # Never share a system containerd's "moby" namespace with another daemon.
            "--containerd-namespace", ns,
            "--containerd-plugins-namespace", f"{ns}-plugins",
        ]  # fmt: skip
        extra += ["--bip", self.bip] if self.bip else ["--bridge", "none"]
        return DockerdArgs(
            sock=self.sock, data_root=self.data_root, exec_root=self.exec_root,
            pidfile=self.pidfile, config_file=self.root / "daemon.json",
            iptables=self.iptables, extra=tuple(extra),
        )  # fmt: skip

    def argv(self) -> list[str]:
        return [
            "nsenter", f"--net={self.netns}", "--",
            "unshare", "--uts", "--mount", "--propagation", "private", "--",
            sys.executable, "-I", str(_LAUNCH), self.host, "--",
            *self.dockerd_args().argv(),
        ]  # fmt: skip

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text(json.dumps({}))
        # A lab has no registry: without the variable a swarm task spends ~30 s "preparing"
        # on a pull that cannot succeed before it falls back to the local image.
        env = {**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"}
        self.launched = Launched(f"dockerd for lab host {self.host!r}", self.argv(),
                                 self.logfile, env)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Block until the daemon answers; return seconds since start."""
        assert self.launched is not None, "start() first"
        self.ready_s = self.launched.wait_until(
            lambda: self.sock.exists() and ping_socket(self.sock),
            self.launched.started_at + timeout,
            RuntimeBuildError,
        )
        return self.ready_s

    def _daemon_pids(self) -> list[int]:
        # nsenter and unshare exec (they do not fork), so the Popen pid is dockerd itself.
        pids: list[int] = []
        if self.launched is not None and self.launched.running():
            pids.append(self.launched.pid)
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if pid not in pids and pid_alive(pid):
                pids.append(pid)
        return pids

    def mounts_apart(self) -> bool:
        """True when the daemon runs in a mount namespace of its own (as start() makes it):
        its mounts go with its last process. One started otherwise (restarted by hand)
        mounts in ours, and only its own shutdown unmounts them."""
        pids = self._daemon_pids()
        try:
            ours = os.readlink("/proc/self/ns/mnt")
            return bool(pids) and all(os.readlink(f"/proc/{p}/ns/mnt") != ours for p in pids)
        except OSError:
            return False

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the daemon by pid, then whatever it left (shims) by pid, then its files."""
        pids = self._daemon_pids()
        if pids:
            kill_bounded(pids, timeout)
        if self.launched is not None:
            self.launched.reap()
        # containerd and its shims were started by this daemon and name its exec root.
        sweep_leftovers(str(self.exec_root))
        self.remove_files()

    def remove_files(self) -> None:
        for path in (self.data_root, self.root):
            shutil.rmtree(path, ignore_errors=True)
        for parent in (self.data_root.parent, self.root.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty: the run's other hosts may still be there


def kill_emptied(daemons: Sequence[LabDaemon], timeout: float = 2.0) -> None:
    """Stop lab daemons whose containers are already gone, all at once, without their
    graceful shutdown, then remove their files.

    A graceful stop costs 2-3 s a daemon (swarm leave and ingress clean-up, then a wait for
    containerd) and keeps nothing: what the daemon made lives in the lab host's namespace
    (removed with the underlay), in its private mount namespace (gone with its last
    process) and under its folders (removed here). Only for daemons that run no
    container any more (a container's own processes would outlive its killed shim) and
    whose mounts are apart from ours (LabDaemon.mounts_apart).
    """
    roots = [str(d.exec_root) for d in daemons]
    pids = [p for d in daemons for p in d._daemon_pids()]
    # dockerd, its containerd and any shim: each names the daemon's exec root.
    pids += [p for p in pids_mentioning(*roots) if p not in pids]
    signal_all(pids, signal.SIGKILL)
    for pid in wait_gone(pids, timeout):
        log.warning("pid %d outlived SIGKILL for %.0f s", pid, timeout)
    sweep_leftovers(*roots)  # a shim forked while we were signalling
    for d in daemons:
        if d.launched is not None:
            d.launched.reap()
        d.remove_files()


def start_all(daemons: list[LabDaemon], timeout: float = READY_TIMEOUT_S) -> None:
    """Start every daemon at once and wait for all of them."""
    for d in daemons:
        d.start()
    for d in daemons:
        d.wait_ready(timeout)


