"""Read a live Docker host into `LiveHost`: the Docker SDK on one side, pure parsing on the
other (`host_from_inspect`), so tests feed it inspect JSON recorded from a real daemon.

Left out, each with the reason (`LiveHost.skipped`): the host/none networks and swarm's own
(ingress, docker_gwbridge), anything carrying netcheck's run label, names matched by
--exclude, containers that are not running or share another's namespace.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from netcheck.discover.live import (
    LiveAttachment,
    LiveContainer,
    LiveHost,
    LiveNetwork,
    LivePort,
    LiveSubnet,
    Skipped,
)
from netcheck.model.plan import IPAddress
from netcheck.runtime.naming import RUN_LABEL

log = logging.getLogger(__name__)

# No network namespace of their own on a network (host, none), or swarm's plumbing that a
# user does not attach to.
_NO_NETWORK_DRIVERS = frozenset({"host", "null"})
_SWARM_PLUMBING = frozenset({"ingress", "docker_gwbridge"})
_DEFAULT_BRIDGE_OPTION = "com.docker.network.bridge.default_bridge"


def excluded(name: str, patterns: Sequence[str]) -> str | None:
    """The --exclude pattern that drops `name` (shell globs, e.g. 'ci-*'), if any."""
    return next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)


def _ip(text: object) -> IPAddress | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        return None


def _subnet(pool: Mapping[str, Any]) -> LiveSubnet | None:
    try:
        subnet = ipaddress.ip_network(pool.get("Subnet") or "", strict=False)
    except ValueError:
        return None
    ip_range = None
    if pool.get("IPRange"):
        ip_range = ipaddress.ip_network(pool["IPRange"], strict=False)
    aux = {k: a for k, v in sorted((pool.get("AuxiliaryAddresses") or {}).items())
           if (a := _ip(v)) is not None}
    return LiveSubnet(subnet=subnet, gateway=_ip(pool.get("Gateway")), ip_range=ip_range,
                      aux_addresses=aux)


def network_from_inspect(data: Mapping[str, Any]) -> LiveNetwork:
    options = {str(k): str(v) for k, v in sorted((data.get("Options") or {}).items())}
    pools = ((data.get("IPAM") or {}).get("Config")) or []
    subnets = tuple(s for p in pools if (s := _subnet(p)) is not None)
    predefined = options.get(_DEFAULT_BRIDGE_OPTION) == "true"
    return LiveNetwork(
        name=data["Name"],
        driver=data.get("Driver") or "",
        scope=data.get("Scope") or "local",
        internal=bool(data.get("Internal")),
        attachable=bool(data.get("Attachable")),
        subnets=tuple(sorted(subnets, key=lambda s: (s.subnet.version, s.subnet))),
        options=options,
        predefined=predefined,
    )


def _short_ids(container_id: str) -> set[str]:
    # Docker (before 26) adds the 12-character id as an alias on user-defined networks.
    return {container_id[:12], container_id} if container_id else set()


def container_from_inspect(
    data: Mapping[str, Any], networks: Mapping[str, LiveNetwork]
) -> tuple[LiveContainer, list[Skipped]]:
    name = str(data.get("Name", "")).lstrip("/")
    skipped: list[Skipped] = []
    ids = _short_ids(str(data.get("Id", "")))
    attachments: list[LiveAttachment] = []
    settings = (data.get("NetworkSettings") or {}).get("Networks") or {}
    for net_name, att in sorted(settings.items()):
        if net_name not in networks:
            continue  # a left-out network: its reason is already recorded once
        addresses = tuple(a for a in (_ip(att.get("IPAddress")),
                                      _ip(att.get("GlobalIPv6Address"))) if a is not None)
        cfg = att.get("IPAMConfig") or {}
        fixed = tuple(a for a in (_ip(cfg.get("IPv4Address")), _ip(cfg.get("IPv6Address")))
                      if a is not None)
        aliases = sorted({a for a in (att.get("Aliases") or ())
                          if a and a != name and a not in ids})
        attachments.append(LiveAttachment(network=net_name, addresses=addresses, fixed=fixed,
                                          aliases=tuple(aliases),
                                          gateway=_ip(att.get("Gateway"))))
    ports: list[LivePort] = []
    for key, binds in sorted(((data.get("NetworkSettings") or {}).get("Ports") or {}).items()):
        port, _, proto = key.partition("/")
        for bind in binds or ():
            try:
                ports.append(LivePort(proto=proto or "tcp", port=int(port),
                                      host_port=int(bind.get("HostPort") or 0),
                                      host_ip=str(bind.get("HostIp") or "")))
            except ValueError:
                continue
    # The same port published on 0.0.0.0 and :: is one publication to the reader.
    unique = sorted({(p.proto, p.port, p.host_port, p.host_ip): p for p in ports}.values(),
                    key=lambda p: (p.proto, p.port, p.host_port, p.host_ip))
    return LiveContainer(name=name, attachments=tuple(attachments), ports=tuple(unique)), skipped


def host_from_inspect(
    *,
    url: str,
    info: Mapping[str, Any],
    networks: Iterable[Mapping[str, Any]],
    containers: Iterable[Mapping[str, Any]],
    exclude: Sequence[str] = (),
    addresses: Mapping[str, tuple[IPAddress, ...]] | None = None,
) -> LiveHost:
    """A `LiveHost` from `docker info`, network inspects and container inspects (pure)."""
    skipped: list[Skipped] = []
    kept: dict[str, LiveNetwork] = {}
    for data in sorted(networks, key=lambda d: str(d.get("Name"))):
        name = str(data.get("Name"))
        why = None
        if (data.get("Labels") or {}).get(RUN_LABEL) is not None:
            why = f"netcheck's own (run {data['Labels'][RUN_LABEL]})"
        elif data.get("Driver") in _NO_NETWORK_DRIVERS:
            why = f"driver {data.get('Driver')}: containers on it have no address of their own"
        elif name in _SWARM_PLUMBING or data.get("Ingress"):
            why = "swarm's own plumbing"
        elif (pattern := excluded(name, exclude)) is not None:
            why = f"--exclude {pattern}"
        if why is not None:
            skipped.append(Skipped(kind="network", name=name, why=why))
            continue
        kept[name] = network_from_inspect(data)
    live: list[LiveContainer] = []
    for data in sorted(containers, key=lambda d: str(d.get("Name"))):
        name = str(data.get("Name", "")).lstrip("/")
        labels = (data.get("Config") or {}).get("Labels") or {}
        mode = str((data.get("HostConfig") or {}).get("NetworkMode") or "")
        why = None
        if labels.get(RUN_LABEL) is not None:
            why = f"netcheck's own (run {labels[RUN_LABEL]})"
        elif (pattern := excluded(name, exclude)) is not None:
            why = f"--exclude {pattern}"
        elif not (data.get("State") or {}).get("Running"):
            why = f"not running ({(data.get('State') or {}).get('Status', 'unknown')})"
        elif mode.startswith("container:"):
            why = "shares another container's network namespace"
        if why is not None:
            skipped.append(Skipped(kind="container", name=name, why=why))
            continue
        container, more = container_from_inspect(data, kept)
        skipped += more
        if not container.attachments:
            skipped.append(Skipped(kind="container", name=name,
                                   why=f"on no network discover keeps (network mode {mode})"))
            continue
        live.append(container)
    return LiveHost(
        url=url,
        hostname=str(info.get("Name") or ""),
        engine=str(info.get("ServerVersion") or ""),
        networks=tuple(kept.values()),
        containers=tuple(live),
        addresses=dict(sorted((addresses or {}).items())),
        skipped=tuple(skipped),
    )


def read_raw(client: Any) -> dict[str, Any]:
    """`docker info`, every network and every container, inspected (what the tests record)."""
    api = client.api
    networks = [api.inspect_network(n["Id"]) for n in api.networks()]
    containers = [api.inspect_container(c["Id"]) for c in api.containers(all=True)]
    info = api.info()
    return {
        "info": {"Name": info.get("Name", ""), "ServerVersion": info.get("ServerVersion", "")},
        "networks": networks,
        "containers": containers,
    }


def local_addresses() -> dict[str, tuple[IPAddress, ...]]:
    """This machine's own addresses by interface (root namespace), via netlink."""
    from pyroute2 import IPRoute

    out: dict[str, list[IPAddress]] = {}
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for msg in ipr.get_addr():
            addr = _ip(msg.get_attr("IFA_ADDRESS"))
            name = names.get(msg["index"])
            if addr is not None and name and not addr.is_link_local:
                out.setdefault(name, []).append(addr)
    return {k: tuple(sorted(v, key=lambda a: (a.version, a))) for k, v in out.items()}


def is_local(url: str) -> bool:
    """A unix socket daemon runs on this machine: its host addresses are ours."""
    return url.startswith("unix://")


def read_host(client: Any, url: str, exclude: Sequence[str] = ()) -> LiveHost:
    raw = read_raw(client)
    return host_from_inspect(
        url=url, info=raw["info"], networks=raw["networks"], containers=raw["containers"],
        exclude=exclude, addresses=local_addresses() if is_local(url) else None,
    )
