"""Docker inside the VM guest: a daemon of the guest's own, stand-in parents, VLAN watching.

The guest's root namespace plays a real Docker host (the docker runtime's real-host mode):
- a dockerd (which starts its own containerd) with its data on a tmpfs under /run, since
  overlay2 cannot sit on the overlay that virtme-ng lays over the 9p root; cgroup2 mounted;
- the VM has no NIC but lo, so a macvlan/ipvlan parent the guest lacks gets a stand-in dummy
  device (`trunk0` for `parent: trunk0.50`: the VLAN device is Docker's to make);
- the VLAN devices that come and go in the root namespace while a scenario runs are
  watched through /proc/net/vlan/config, so a batch can show that Docker made `trunk0.50`
  for a parent that did not exist, and removed it with the network.

Only started when a scenario of the batch needs it: dockerd costs ~15 s under TCG.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netcheck.runtime.docker.dockerd import (
    DockerdArgs,
    Launched,
    ping_socket,
    socket_connects,
    sweep_leftovers,
)

log = logging.getLogger(__name__)

ROOT = Path("/run/netcheck-vm/docker")
READY_TIMEOUT_S = 120.0  # dockerd + containerd under TCG: ~15 s seen, slower when loaded
STOP_TIMEOUT_S = 10.0
VLAN_CONFIG = Path("/proc/net/vlan/config")
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static (scripts/install-vm.sh needs it)
WATCH_INTERVAL_S = 0.1
_CGROUP = Path("/sys/fs/cgroup")
_VLAN_NAME = re.compile(r"^(?P<base>.+)\.(?P<vid>[1-9][0-9]{0,3})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerNeed:
    docker: bool  # the scenario runs on the docker runtime
    real_host: bool  # ... on the guest's own daemon (no lab hosts)
    parents: tuple[str, ...] = ()  # macvlan/ipvlan parents its networks name


@dataclass(frozen=True, slots=True, kw_only=True)
class VlanDevice:
    ifname: str
    vlan_id: int
    lower: str
    left_after: bool  # still there when the scenario had ended (torn down or not)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestNotes:
    """What the guest saw around one scenario: the record cannot tell, the guest can."""

    docker: bool = False
    stand_in_parents: tuple[str, ...] = ()  # dummy devices the guest made for it
    vlan_devices: tuple[VlanDevice, ...] = ()  # appeared in the root namespace meanwhile


def notes_from_dict(data: dict[str, Any]) -> GuestNotes:
    return GuestNotes(
        docker=bool(data.get("docker", False)),
        stand_in_parents=tuple(data.get("stand_in_parents", ())),
        vlan_devices=tuple(VlanDevice(**v) for v in data.get("vlan_devices", ())),
    )


def _runtime_arg(run_args: Sequence[str]) -> str | None:
    for i, arg in enumerate(run_args):
        if arg == "--runtime" and i + 1 < len(run_args):
            return run_args[i + 1]
        if arg.startswith("--runtime="):
            return arg.split("=", 1)[1]
    return None


def scenario_need(scenario: Path, run_args: Sequence[str]) -> DockerNeed:
    """Read just enough of the YAML to know; a file that does not parse needs nothing here
    (`netcheck run` reports it properly)."""
    try:
        data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return DockerNeed(docker=False, real_host=False)
    if not isinstance(data, dict):
        return DockerNeed(docker=False, real_host=False)
    runtime = _runtime_arg(run_args) or data.get("runtime")
    if runtime != "docker":
        return DockerNeed(docker=False, real_host=False)
    lab = data.get("lab") if isinstance(data.get("lab"), dict) else {}
    hosts = lab.get("hosts") if isinstance(lab, dict) else None
    # Hosts with a docker URL are remote daemons; only the others get lab daemons.
    lab_hosts = [
        h for h in (hosts or {}).values() if not (isinstance(h, dict) and h.get("docker"))
    ]
    parents: list[str] = []
    networks = data.get("networks")
    for net in (networks or {}).values() if isinstance(networks, dict) else ():
        parent = net.get("parent") if isinstance(net, dict) else None
        if isinstance(parent, str) and "$" not in parent and parent not in parents:
            parents.append(parent)
    return DockerNeed(docker=True, real_host=not lab_hosts, parents=tuple(parents))


def base_link(parent: str) -> str:
    """The device a parent hangs off: `trunk0` for `trunk0.50` (Docker makes the VLAN one)."""
    match = _VLAN_NAME.match(parent)
    return match["base"] if match and int(match["vid"]) <= 4094 else parent


def add_stand_in_parents(parents: Sequence[str]) -> tuple[str, ...]:
    """A dummy device for each parent's base link the guest lacks: the names it made."""
    from pyroute2 import IPRoute

    made: list[str] = []
    with IPRoute() as ipr:
        for name in dict.fromkeys(base_link(p) for p in parents):
            if ipr.link_lookup(ifname=name):
                continue
            ipr.link("add", ifname=name, kind="dummy")
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
            made.append(name)
    if made:
        log.info("stand-in parent(s) in the guest: %s", ", ".join(made))
    return tuple(made)


def remove_links(names: Sequence[str]) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for name in names:
            found = ipr.link_lookup(ifname=name)
            if found:
                with contextlib.suppress(Exception):
                    ipr.link("del", index=found[0])


def read_vlan_config(path: Path = VLAN_CONFIG) -> dict[str, tuple[int, str]]:
    """VLAN devices of this namespace: name -> (vid, lower). Empty without 8021q loaded."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return {}
    out: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit():
            out[parts[0]] = (int(parts[1]), parts[2])
    return out


class VlanWatch:
    """Polls the root namespace's VLAN devices while a scenario runs (a thread; cheap: one
    small procfs read per tick). Devices that existed before it started are not reported."""

    def __init__(self, path: Path = VLAN_CONFIG, interval: float = WATCH_INTERVAL_S) -> None:
        self._path = path
        self._interval = interval
        self._before = set(read_vlan_config(path))
        self._seen: dict[str, tuple[int, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vm-vlan-watch", daemon=True)

    def _tick(self) -> None:
        for name, value in read_vlan_config(self._path).items():
            if name not in self._before:
                self._seen.setdefault(name, value)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._tick()

    def start(self) -> VlanWatch:
        self._thread.start()
        return self

    def seen(self) -> set[str]:
        return set(self._seen)

    def stop(self) -> tuple[VlanDevice, ...]:
        self._stop.set()
        self._thread.join(timeout=5)
        self._tick()
        now = read_vlan_config(self._path)
        return tuple(
            VlanDevice(ifname=name, vlan_id=vid, lower=lower, left_after=name in now)
            for name, (vid, lower) in sorted(self._seen.items())
        )


def prepare_image_cache(cache: Path) -> None:
    """The rootfs tarball of netcheck's busybox image, made from the host's own static
    busybox: the guest has no network for apt-get, and virtme-ng hides the host's image
    cache (/var/cache) behind a tmpfs. Lab daemons find it through NETCHECK_CACHE_DIR."""
    from netcheck.image.build import ROOTFS_NAME, make_rootfs

    if BUSYBOX.is_file() and not (cache / ROOTFS_NAME).is_file():
        cache.mkdir(parents=True, exist_ok=True)
        make_rootfs(BUSYBOX, cache / ROOTFS_NAME)


def ensure_cgroup2() -> None:
    """Docker needs a cgroup hierarchy; virtme-ng mounts cgroup2, a bare init may not."""
    if (_CGROUP / "cgroup.controllers").exists():
        return
    subprocess.run(
        ["mount", "-t", "cgroup2", "cgroup2", str(_CGROUP)], check=True, capture_output=True
    )


class GuestDockerd:
    """The guest's own containerd and dockerd, started and stopped by the shared launcher
    (runtime/docker/dockerd.py), each by its PID.

    containerd is started apart, and dockerd only once its socket answers: a dockerd that
    starts its own containerd gives up on it after a fixed wait, which a loaded TCG guest
    can miss (seen here: "timeout waiting for containerd to start")."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.containerd: Launched | None = None
        self.dockerd: Launched | None = None
        self.started_at = 0.0
        self.ready_s: float | None = None

    @property
    def sock(self) -> Path:
        return self.root / "docker.sock"

    @property
    def containerd_sock(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    @property
    def logfile(self) -> Path:
        return self.root / "daemons.log"

    def containerd_argv(self) -> list[str]:
        return [
            "containerd",
            "--config", str(self.root / "containerd.toml"),
            "--root", str(self.root / "containerd-root"),
            "--state", str(self.root / "containerd-state"),
            "--address", str(self.containerd_sock),
        ]

    def dockerd_argv(self) -> list[str]:
        # No NAT or firewall rules (iptables off): the guest has no uplink to masquerade to.
        return DockerdArgs(
            sock=self.sock, data_root=self.root / "data", exec_root=self.root / "exec",
            pidfile=self.root / "dockerd.pid", config_file=self.root / "daemon.json",
            containerd=self.containerd_sock,
        ).argv()

    def start(self) -> None:
        """Start containerd (dockerd follows in wait_ready, once containerd answers)."""
        ensure_cgroup2()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text("{}\n", encoding="utf-8")
        (self.root / "containerd.toml").write_text("version = 2\n", encoding="utf-8")
        self.containerd = Launched("guest containerd", self.containerd_argv(), self.logfile)
        self.started_at = self.containerd.started_at
        log.info("guest containerd started: pid %d", self.containerd.pid)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Wait for containerd, start dockerd, wait for it: seconds since start()."""
        assert self.containerd is not None, "start() first"
        deadline = self.started_at + timeout
        self.containerd.wait_until(
            lambda: socket_connects(self.containerd_sock), deadline, RuntimeError, poll=0.1
        )
        self.dockerd = Launched("guest dockerd", self.dockerd_argv(), self.logfile)
        log.info("guest dockerd started: pid %d", self.dockerd.pid)
        self.dockerd.wait_until(
            lambda: self.sock.exists() and ping_socket(self.sock), deadline, RuntimeError,
            poll=0.1,
        )
        self.ready_s = round(time.monotonic() - self.started_at, 2)
        return self.ready_s

    def load_image(self, cache: Path) -> float:
        """netcheck's busybox image, by `docker import` (no registry): seconds it took."""
        import docker

        from netcheck.image import DEFAULT_IMAGE, ensure_image

        started = time.monotonic()
        prepare_image_cache(cache)
        client = docker.DockerClient(base_url=self.url, timeout=300)
        try:
            ensure_image(client, DEFAULT_IMAGE, cache_dir=cache)
        finally:
            client.close()
        return round(time.monotonic() - started, 2)

    def stop(self) -> None:
        for launched in (self.dockerd, self.containerd):
            if launched is not None:
                launched.stop(STOP_TIMEOUT_S)
        # Container shims name the daemons' folders on their command lines.
        sweep_leftovers(str(self.root))
