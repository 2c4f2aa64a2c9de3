"""Probes: scapy packets sent from inside each source namespace, one worker process each.

The main process imports no scapy: workers are forked from a preloading forkserver.
"""

from __future__ import annotations

from netcheck.probes.base import BatchInfo, ListenTask, ProbeTask, WorkerReport
from netcheck.probes.pool import run_probes, run_workers, warm_up
from netcheck.probes.responders import Responders
from netcheck.probes.sites import SiteEntry, register, register_local

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
