"""What `netcheck discover` read from a live Docker host: frozen, no I/O.

Only what the written scenario or its comments may use is kept: no ids, no MACs, and a
container's address only as a fact of this reading (the writer never prints a dynamic one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netcheck.model.plan import IPAddress, IPNetwork


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSubnet:
    """One IPAM pool of a network, as `docker network inspect` shows it."""

    subnet: IPNetwork
    gateway: IPAddress | None = None
    ip_range: IPNetwork | None = None
    aux_addresses: Mapping[str, IPAddress] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveNetwork:
    name: str
    driver: str  # bridge, macvlan, ipvlan, overlay, or a plugin's name
    scope: str = "local"  # local | swarm | global
    internal: bool = False
    attachable: bool = False
    subnets: tuple[LiveSubnet, ...] = ()
    # Driver options verbatim (parent, macvlan_mode, ipvlan_mode, com.docker.network.*).
    options: Mapping[str, str] = field(default_factory=dict)
    # Docker's own `bridge` network: no DNS by name, no user-defined isolation rules.
    predefined: bool = False

    @property
    def parent(self) -> str | None:
        return self.options.get("parent") or None

    @property
    def mode(self) -> str | None:
        """macvlan_mode / ipvlan_mode with Docker's defaults (bridge, l2) filled in."""
        if self.driver == "macvlan":
            return self.options.get("macvlan_mode") or "bridge"
        if self.driver == "ipvlan":
            return self.options.get("ipvlan_mode") or "l2"
        return None

    @property
    def user_defined(self) -> bool:
        return not self.predefined

    @property
    def icc(self) -> bool:
        """Containers of a bridge network talk to each other unless icc is switched off."""
        return self.options.get("com.docker.network.bridge.enable_icc", "true") != "false"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveAttachment:
    """A container's membership in one network."""

    network: str
    addresses: tuple[IPAddress, ...] = ()  # IPv4 then IPv6, as Docker reports them now
    fixed: tuple[IPAddress, ...] = ()  # the addresses the user gave (--ip/--ip6): stable
    aliases: tuple[str, ...] = ()  # user aliases (Docker's own short-id alias left out)
    gateway: IPAddress | None = None  # the gateway Docker gave this endpoint (a route out)


@dataclass(frozen=True, slots=True, kw_only=True)
class LivePort:
    """A published port: `-p host_ip:host_port:port/proto`."""

    proto: str  # tcp | udp
    port: int
    host_port: int
    host_ip: str = ""

    def __str__(self) -> str:
        # Docker's "every address" binding is the default; say only a narrower one.
        anywhere = self.host_ip in ("", "::") or self.host_ip == "0.0.0.0"  # noqa: S104
        where = "" if anywhere else f"{self.host_ip}:"
        return f"{where}{self.host_port}->{self.port}/{self.proto}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveContainer:
    name: str
    attachments: tuple[LiveAttachment, ...]
    ports: tuple[LivePort, ...] = ()

    def attachment(self, network: str) -> LiveAttachment | None:
        return next((a for a in self.attachments if a.network == network), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """Something the host has that discover leaves out, and why (printed, never written)."""

    kind: str  # network | container | attachment
    name: str
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveHost:
    """One Docker daemon as read now."""

    url: str
    hostname: str  # the daemon's `docker info` Name
    engine: str  # Engine version
    networks: tuple[LiveNetwork, ...]
    containers: tuple[LiveContainer, ...]
    # The host's own addresses by interface, when they are cheap to read (the local
    # daemon: this machine's root namespace). Empty for a remote daemon.
    addresses: Mapping[str, tuple[IPAddress, ...]] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()

    def network(self, name: str) -> LiveNetwork:
        for net in self.networks:
            if net.name == name:
                return net
        raise KeyError(name)

    def members(self, network: str) -> tuple[LiveContainer, ...]:
        return tuple(c for c in self.containers if c.attachment(network) is not None)
