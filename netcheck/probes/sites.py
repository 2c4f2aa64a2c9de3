"""How each kind of probe site is entered: a registry keyed by site type.

The probe layer knows how to enter a namespace on this machine (`NamespacePath`, and a local
container's `/proc/<pid>/ns/net`); a runtime that has other sites registers how to probe
and listen there (runtime/docker registers `RemoteContainer`, a sidecar on another
daemon). The probe layer then never imports a runtime.

The entry is looked up in the parent and handed to the worker process with its task: its
two functions are module-level, so they travel by reference and the child imports their
module (and the runtime's, for a registered site) itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from netcheck.model.plan import Port
from netcheck.model.sites import ProbeSite
from netcheck.probes._entry import ProbeFn

ServeFn = Callable[[Connection, Any, Sequence[Port]], None]


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """How to run a site's probes (one worker's batch) and its responder."""

    probe: ProbeFn  # (site, tasks, timeout) -> WorkerReport
    serve: ServeFn  # (conn, site, ports): the responders' protocol (responders.serve_local)


class UnknownSite(LookupError):
    pass


_ENTRIES: dict[type, SiteEntry] = {}


def register(site_type: type, entry: SiteEntry) -> None:
    _ENTRIES[site_type] = entry


def entry_for(site: ProbeSite) -> SiteEntry:
    entry = _ENTRIES.get(type(site))
    if entry is None:
        raise UnknownSite(
            f"no way to enter {site} ({type(site).__name__}) is registered in this process"
        )
    return entry
