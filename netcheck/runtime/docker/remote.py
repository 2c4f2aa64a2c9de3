"""Probes on a Docker host that is not this machine (`lab.hosts.X.docker: ssh://…|tcp://…`).

A container on a remote daemon has no /proc/PID here to enter. Its node's site is then a
`RemoteContainer` (netcheck.model.sites: run id, container id, daemon url, probe image tag),
and the probe worker for it runs as a sidecar on that daemon:

- image: `netcheck/probe:<digest>` (probeimage.py), imported by the build; the tag travels in
  the site because working it out (ldd over every extension module) costs seconds, in
  every worker; None when unknown, and the worker then works it out and imports it itself;
- `network_mode=container:<target>`: the sidecar shares the target's network namespace, so
  its raw sockets send from the target's interfaces and addresses;
- `cap_add=[NET_RAW, NET_ADMIN]`, nothing else: no privileged mode, no host network;
- labelled with the run id (`io.netcheck.run`, role `probe`), removed when done, and swept
  with the run's containers at teardown.

The local worker process that would have entered the namespace drives the sidecar instead:
this module registers `RemoteContainer` with the probe layer's site registry
(netcheck.probes.sites), so the probe pool's deadlines, grouping and error reporting apply
unchanged and the probe layer never imports this runtime.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import pickle
import signal
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from netcheck.model.plan import Port
from netcheck.model.sites import RemoteContainer
from netcheck.probes import sites
from netcheck.probes.base import ProbeTask, WorkerReport
from netcheck.runtime.naming import ROLE_LABEL, RUN_LABEL

log = logging.getLogger(__name__)

CAPS = ["NET_RAW", "NET_ADMIN"]
READY_TIMEOUT_S = 30.0  # an image import on first use, then a container start


def is_local_url(url: str) -> bool:
    """A unix socket is this machine's daemon: its containers' /proc/PID are ours to enter."""
    return url.startswith("unix://")


_ALLOWED_MODULES = ("netcheck.model.", "netcheck.probes.base")


class _ReportUnpickler(pickle.Unpickler):
    """Only netcheck's result dataclasses, their enums and ipaddress: a remote host's output
    must not be able to name any other callable."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "ipaddress" or module.startswith(_ALLOWED_MODULES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a probe report")


def decode_report(text: str) -> WorkerReport:
    report = _ReportUnpickler(io.BytesIO(base64.b64decode(text))).load()
    if not isinstance(report, WorkerReport):
        raise pickle.UnpicklingError(f"expected a WorkerReport, got {type(report).__name__}")
    return report


def _client(url: str) -> Any:
    from netcheck.runtime.docker.client import make_client

    # The run's build has already checked an ssh:// host: no second login per worker.
    return make_client(url, timeout=60.0, verify=False)


def _sidecar(client: Any, ref: RemoteContainer, argv: list[str], env: dict[str, str]) -> Any:
    from netcheck.runtime.docker.probeimage import REPOSITORY, ensure_probe_image

    image = f"{REPOSITORY}:{ref.image_tag}" if ref.image_tag else ensure_probe_image(client)
    return client.containers.run(
        image,
        argv,
        environment=env,
        network_mode=f"container:{ref.container}",
        cap_add=CAPS,
        labels={RUN_LABEL: ref.run_id, ROLE_LABEL: argv[0]},
        detach=True,
    )


def probe_remote(
    ref: RemoteContainer, tasks: Sequence[ProbeTask], timeout: float
) -> WorkerReport:
    """Run one source's probes in a sidecar of the remote container; its WorkerReport."""
    from netcheck.runtime.docker.agent import INPUT_ENV, REPORT

    started = time.monotonic()
    client = _client(ref.url)
    container = None
    try:
        payload = base64.b64encode(pickle.dumps((list(tasks), timeout))).decode()
        container = _sidecar(client, ref, ["probe"], {INPUT_ENV: payload})
        status = container.wait(timeout=timeout + READY_TIMEOUT_S)
        out = container.logs(stdout=True, stderr=False).decode(errors="replace")
        lines = [ln for ln in out.splitlines() if ln.startswith(REPORT)]
        if status.get("StatusCode") != 0 or not lines:
            err = container.logs(stdout=False, stderr=True).decode(errors="replace")
            tail = " | ".join(err.strip().splitlines()[-3:])
            raise RuntimeError(
                f"probe sidecar on {ref.url} exited {status.get('StatusCode')}: {tail}"
            )
        report = decode_report(lines[-1][len(REPORT) :])
        return replace(report, netns=str(ref), setup_s=round(time.monotonic() - started, 4))
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        client.close()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def serve_remote(conn: Any, ref: RemoteContainer, ports: Sequence[Port]) -> None:
    """Responder process for a remote container: a listening sidecar, removed on SIGTERM
    or when the parent closes the pipe (same protocol as responders.serve_local)."""
    from netcheck.runtime.docker.agent import READY

    signal.signal(signal.SIGTERM, _raise_stop)
    client = None
    container = None
    try:
        client = _client(ref.url)
        container = _sidecar(client, ref, ["listen", *(str(p) for p in ports)], {})
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            logs = container.logs(stdout=True, stderr=True).decode(errors="replace")
            if READY in logs:
                break
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                tail = " | ".join(logs.strip().splitlines()[-3:]) or container.status
                conn.send(("error", f"listening sidecar on {ref.url}: {tail}"))
                return
            time.sleep(0.05)
        conn.send(("ready", [str(p) for p in ports]))
        with contextlib.suppress(EOFError, OSError):
            conn.recv()  # blocks until the parent closes the pipe or SIGTERM arrives
    except _Stop:
        pass
    except Exception as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        with contextlib.suppress(Exception):
            conn.close()


def sweep(client: Any, run_id: str) -> int:
    """Remove this run's sidecars still on a daemon (a killed worker leaves its own)."""
    n = 0
    for c in client.containers.list(
        all=True, filters={"label": [f"{RUN_LABEL}={run_id}", ROLE_LABEL]}
    ):
        with contextlib.suppress(Exception):
            c.remove(force=True)
            n += 1
    return n


sites.register(RemoteContainer, sites.SiteEntry(probe=probe_remote, serve=serve_remote))
