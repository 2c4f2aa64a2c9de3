"""Probes: scapy packets sent from inside each source namespace, one worker process each.

The main process imports no scapy: workers are forked from a preloading forkserver.
"""

from __future__ import annotations

from netcheck.model.sites import ContainerPid, NamespacePath
from netcheck.probes._entry import probe_local
from netcheck.probes.base import BatchInfo, ListenTask, ProbeTask, WorkerReport
from netcheck.probes.pool import run_probes, run_workers, warm_up
from netcheck.probes.responders import Responders, serve_local
from netcheck.probes.sites import SiteEntry, register


def register_local() -> None:
    """This machine's own namespaces: a namespace file, a local container's pid. Here, not
    in sites.py: responders imports pool, which imports sites."""
    local = SiteEntry(probe=probe_local, serve=serve_local)
    register(NamespacePath, local)
    register(ContainerPid, local)


# This machine's namespaces; runtimes register their other sites (netcheck.probes.sites).
register_local()

__all__ = [
    "BatchInfo",
    "ListenTask",
    "ProbeTask",
    "Responders",
    "SiteEntry",
    "WorkerReport",
    "register",
    "run_probes",
    "run_workers",
    "warm_up",
]
