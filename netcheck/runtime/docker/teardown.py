"""The docker runtime's teardown, as steps it composes in order (DockerRuntime.teardown).

Each step takes the daemons of the run (key -> DaemonHandle), does one thing, and appends
what it could not do to `errors` (a 404 is no error: the object is gone already). Objects
are named by the ids the build recorded, or found by the run's label: an object netcheck
did not create is never touched.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence

from netcheck.runtime.docker import services as swarm_services
from netcheck.runtime.docker.daemon import LabDaemon, kill_emptied
from netcheck.runtime.docker.handles import DaemonHandle, api_message, is_gone, parallel
from netcheck.runtime.docker.remote import is_local_url, sweep
from netcheck.runtime.naming import RUN_LABEL

log = logging.getLogger(__name__)

Daemons = Mapping[str, DaemonHandle]


def _failed(errors: list[str], what: str, exc: BaseException) -> None:
    if not is_gone(exc):
        errors.append(f"{what}: {api_message(exc)}")


def remove_services(daemons: Daemons, services: Sequence[tuple[str, str]],
                    errors: list[str]) -> None:
    """Remove the run's swarm services, newest first, from the manager that made them.

    On a real daemon the step waits for their tasks, as the networks can go only after
    them. On a lab daemon it does not: the removal only stops swarm from replacing the
    task containers that remove_containers takes down next."""
    for key, sid in reversed(services):
        d = daemons.get(key)
        if d is None or d.client is None:
            continue
        try:
            d.client.api.remove_service(sid)
            if d.lab is None:
                swarm_services.wait_tasks_gone(d.client, sid)
        except Exception as exc:
            _failed(errors, f"service {sid[:12]}", exc)


def containers_to_remove(daemons: Daemons, made: Sequence[tuple[str, str]], run_id: str,
                         with_tasks: bool) -> list[tuple[str, str]]:
    """The containers the build made and, when the run had services, their task
    containers on lab daemons (labelled with the run; a lab daemon is stopped next, and
    a task's processes would outlive its killed shim)."""
    out = list(made)
    if not with_tasks:
        return out
    labs = [d for d in daemons.values() if d.lab is not None and d.client is not None]

    def labelled(d: DaemonHandle) -> list[tuple[str, str]]:
        try:
            found = d.client.api.containers(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
        except Exception:
            return []  # its daemon is stopped gracefully then (it is not idle)
        return [(d.key, str(c["Id"])) for c in found]

    for listed in parallel(labelled, labs):
        out += [item for item in listed if item not in out]
    return out


def remove_containers(daemons: Daemons, items: Sequence[tuple[str, str]],
                      errors: list[str]) -> None:
    """Force-remove containers (with their anonymous volumes), one API call each, all at
    once."""

    def remove(item: tuple[str, str]) -> None:
        key, cid = item
        d = daemons.get(key)
        if d is None or d.client is None:
            return
        try:
            d.client.api.remove_container(cid, force=True, v=True)
        except Exception as exc:
            _failed(errors, f"container {cid[:12]}", exc)

    with contextlib.suppress(Exception):
        parallel(remove, items)


def sweep_sidecars(daemons: Daemons, run_id: str) -> None:
    """Probe sidecars the run left on remote daemons (labelled with the run)."""
    for d in daemons.values():
        if d.client is not None and not is_local_url(d.url):
            with contextlib.suppress(Exception):
                sweep(d.client, run_id)


def remove_networks(daemons: Daemons, errors: list[str]) -> None:
    """The networks the build made, on real daemons. A lab daemon's go with its data:
    removing them first only races swarm's own task clean-up ("network is in use")."""
    for d in daemons.values():
        if d.lab is None:
            for name, nid in list(d.networks.items()):
                try:
                    d.client.api.remove_network(nid)
                except Exception as exc:
                    _failed(errors, f"network {name}", exc)
                d.networks.pop(name, None)
        d.networks.clear()


def leave_swarms(daemons: Daemons, errors: list[str]) -> None:
    """Leave the swarms this run made real daemons join (last joined first). A lab
    daemon is about to be stopped and its state removed: no need to leave."""
    for d in reversed(list(daemons.values())):
        if d.swarm_ours and d.lab is None:
            try:
                d.client.swarm.leave(force=True)
            except Exception as exc:
                errors.append(f"swarm leave: {api_message(exc)}")
        d.swarm_ours = False


def idle_labs(daemons: Daemons) -> set[str]:
    """Lab daemons that answer and run no container any more: safe to kill outright."""
    labs = [d for d in daemons.values() if d.lab is not None and d.client is not None]

    def idle(d: DaemonHandle) -> bool:
        try:
            return not d.client.api.containers()
        except Exception:
            return False

    return {d.key for d, ok in zip(labs, parallel(idle, labs), strict=True) if ok}


def close_clients(daemons: Daemons) -> None:
    for d in daemons.values():
        if d.client is not None:
            with contextlib.suppress(Exception):
                d.client.close()


def stop_lab_daemons(labs: Sequence[LabDaemon], idle: set[str]) -> None:
    """Idle daemons with their mounts apart are killed all at once (daemon.kill_emptied);
    any other gets its graceful stop, which takes its containers and mounts down first.
    All concurrently."""
    killed = [lab for lab in labs if lab.host in idle and lab.mounts_apart()]
    graceful = [lab for lab in labs if lab not in killed]

    def stop(batch: list[LabDaemon]) -> None:
        if batch is killed:
            kill_emptied(batch)
        else:
            batch[0].stop()

    jobs: list[list[LabDaemon]] = ([killed] if killed else []) + [[lab] for lab in graceful]
    with contextlib.suppress(Exception):
        parallel(stop, jobs)
