"""Where a probe runs: a typed probe site, one dataclass per way of getting into a namespace.

A node's site says how its network namespace is reached, never by a string convention:

- `NamespacePath`: a namespace file on this machine (/run/netns/X, a lab host's namespace);
- `ContainerPid`: a container on this machine's own daemon, entered through
  /proc/<pid>/ns/net of its main process (nothing runs in the container);
- `RemoteContainer`: a container on another Docker host; the probes run in a sidecar there
  that shares its namespace (`network_mode=container:<id>`).

How each kind is entered is not decided here: the probe layer keeps a registry keyed by site
type (netcheck.probes.sites), and the runtime that knows how registers it. `KIND` tags the
site in the JSON report so it loads back as the same type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netcheck.model.pickling import by_fields


class SiteNotLocal(OSError):
    """The node's namespace is not on this machine: live state cannot be read from here.

    An OSError on purpose: every reader of live namespace state already treats "cannot open
    that namespace" as missing evidence, never as a finding.
    """


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class NamespacePath:
    """A network namespace file on this machine."""

    KIND: ClassVar[str] = "netns"
    path: str

    @property
    def netns(self) -> str | None:
        return self.path

    def __str__(self) -> str:
        return self.path


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPid:
    """A container of this machine's daemon, entered through its main process's namespace."""

    KIND: ClassVar[str] = "container-pid"
    container: str  # id (or name) on the daemon, for messages
    pid: int
    # The namespace's inode when the run found it: entering checks it, so a container that
    # died (its pid reused by another process) gives errors, never another namespace.
    inode: int | None = None

    @property
    def netns(self) -> str | None:
        return f"/proc/{self.pid}/ns/net"

    def __str__(self) -> str:
        return f"container {self.container[:12]} (pid {self.pid})"


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteContainer:
    """A container on another Docker host, probed from a sidecar sharing its namespace."""

    KIND: ClassVar[str] = "remote-container"
    run_id: str  # labels the sidecars, so teardown and `netcheck clean` find them
    container: str  # the container's id on that daemon
    url: str  # the daemon: tcp://..., ssh://..., unix://... of a lab host
    image_tag: str | None = None  # the probe image's tag on that daemon, when known

    @property
    def netns(self) -> str | None:
        return None

    def __str__(self) -> str:
        return f"container {self.container[:12]} on {self.url}"


ProbeSite = NamespacePath | ContainerPid | RemoteContainer
SITE_TYPES: tuple[type[NamespacePath] | type[ContainerPid] | type[RemoteContainer], ...] = (
    NamespacePath,
    ContainerPid,
    RemoteContainer,
)
