"""`netcheck clean` for Docker: remove what dead runs left, found by the io.netcheck.run label."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from netcheck.runtime import state
from netcheck.runtime.docker.client import make_client
from netcheck.runtime.docker.daemon import DATA_DIR, RUN_DIR, LabDaemon
from netcheck.runtime.docker.dockerd import cmdline, kill_bounded
from netcheck.runtime.naming import RUN_LABEL, is_run_id

log = logging.getLogger(__name__)


def run_alive(run_id: str) -> bool:
    """A run is alive while its process is (the run registry in netcheck.runtime.state)."""
    recorded = state.read(run_id)
    return recorded is not None and state.is_alive(recorded)


def clean_docker(docker_host: str | None, dry_run: bool = False) -> list[str]:
    """Remove labelled containers and networks of dead runs; never an unlabelled object."""
    removed: list[str] = []
    client: Any = make_client(docker_host, timeout=30)
    try:
        # Services first: swarm would restart their task containers removed below.
        for svc in _labelled_services(client):
            run_id = (svc.attrs.get("Spec", {}).get("Labels") or {}).get(RUN_LABEL, "")
            if not is_run_id(run_id) or run_alive(run_id):
                continue
            removed.append(f"docker service {svc.name} (run {run_id})")
            if not dry_run:
                svc.remove()
        for c in client.containers.list(all=True, filters={"label": RUN_LABEL}):
            run_id = c.labels.get(RUN_LABEL, "")
            if not is_run_id(run_id) or run_alive(run_id):
                continue
            removed.append(f"docker container {c.name} (run {run_id})")
            if not dry_run:
                c.remove(force=True, v=True)
        for n in client.networks.list(filters={"label": RUN_LABEL}):
            run_id = (n.attrs.get("Labels") or {}).get(RUN_LABEL, "")
            if not is_run_id(run_id) or run_alive(run_id):
                continue
            removed.append(f"docker network {n.name} (run {run_id})")
            if not dry_run:
                n.remove()
    finally:
        client.close()
    removed += clean_lab_daemons(dry_run)
    return removed


def _labelled_services(client: Any) -> list[Any]:
    """Swarm services of netcheck runs; none when the daemon is not a swarm manager."""
    import docker.errors

    try:
        return list(client.services.list(filters={"label": RUN_LABEL}))
    except docker.errors.APIError:
        return []  # "This node is not a swarm manager"


def clean_lab_daemons(dry_run: bool = False) -> list[str]:
    """Stop lab dockerds of dead runs (by the pid in their pid file) and remove their files."""
    removed: list[str] = []
    if not RUN_DIR.is_dir():
        return removed
    for run_dir in sorted(RUN_DIR.iterdir()):
        if not run_dir.is_dir() or not is_run_id(run_dir.name) or run_alive(run_dir.name):
            continue
        for host_dir in sorted(p for p in run_dir.iterdir() if p.is_dir()):
            lab = LabDaemon(run_id=run_dir.name, host=host_dir.name, netns="", default_pool="")
            pid = _daemon_pid(lab.pidfile, lab)
            removed.append(
                f"lab dockerd {run_dir.name}/{host_dir.name}" + (f" (pid {pid})" if pid else "")
            )
            if dry_run:
                continue
            if pid:
                kill_bounded([pid])
            lab.stop(timeout=2.0)
        if not dry_run:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
            with contextlib.suppress(OSError):
                (DATA_DIR / run_dir.name).rmdir()
    return removed


def _daemon_pid(pidfile: Path, lab: LabDaemon) -> int | None:
    """The pid in the file, only if that process still is this lab's dockerd."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    cmd = cmdline(pid)
    if cmd and Path(cmd[0]).name == "dockerd" and str(lab.exec_root) in cmd:
        return pid
    return None
