"""What a run adopts on a Docker host: external networks and containers that already run.

Read only, by construction: this module calls `inspect_network` and `inspect_container`
and nothing else on those objects. netcheck attaches its own probe containers to an
external network (runtime.py, like any of its containers) and probes from inside an
existing container's namespace, but it never creates, connects, disconnects, stops,
restarts, renames or execs into what it adopts, and teardown and `netcheck clean` only
ever remove objects carrying the run label (naming.RUN_LABEL).

The pure parts (a network from its inspect document, fixed addresses checked against the
real subnets, a node from a container's inspect document) take recorded Docker state, so
their rules are tested without a daemon.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netcheck.errors import Location, RuntimeBuildError, ScenarioError
from netcheck.model.plan import (
    Driver,
    Endpoint,
    IPAddress,
    IpvlanMode,
    MacvlanMode,
    Network,
    NodeKind,
    Plan,
    Subnet,
)
from netcheck.model.results import Interface, Node
from netcheck.model.sites import ContainerPid, ProbeSite

log = logging.getLogger(__name__)

MTU_OPTION = "com.docker.network.driver.mtu"
RESOLVER = ipaddress.ip_address("127.0.0.11")
# Docker's predefined networks: no embedded DNS on them (the default bridge) or no
# interface of the container's own (host, none).
PREDEFINED = frozenset({"bridge", "host", "none"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundNetwork:
    """An external network as one daemon reported it."""

    network: Network  # the scenario's network with Docker's facts filled in
    docker_id: str
    docker_name: str
    # Addresses Docker has handed to the network's containers: address -> container name.
    in_use: Mapping[IPAddress, str] = field(default_factory=dict)


def _enum(cls: type[MacvlanMode] | type[IpvlanMode], text: str | None) -> Any:
    with contextlib.suppress(ValueError):
        return cls(text) if text else None
    return None


def network_from_inspect(base: Network, attrs: Mapping[str, Any]) -> FoundNetwork:
    """The scenario's external network `base` with the facts of Docker's inspect document."""
    driver_name = str(attrs.get("Driver") or "")
    driver = None
    with contextlib.suppress(ValueError):
        driver = Driver(driver_name)
    options = {str(k): str(v) for k, v in (attrs.get("Options") or {}).items()}
    subnets: list[Subnet] = []
    for pool in (attrs.get("IPAM") or {}).get("Config") or []:
        raw = pool.get("Subnet")
        if not raw:
            continue
        aux = {
            str(k): ipaddress.ip_address(v)
            for k, v in (pool.get("AuxiliaryAddresses") or {}).items()
        }
        subnets.append(Subnet(
            subnet=ipaddress.ip_network(raw, strict=False),
            gateway=ipaddress.ip_address(pool["Gateway"]) if pool.get("Gateway") else None,
            ip_range=ipaddress.ip_network(pool["IPRange"], strict=False)
            if pool.get("IPRange") else None,
            aux_addresses=aux,
        ))
    mtu_text = options.get(MTU_OPTION, "")
    macvlan_mode = _enum(MacvlanMode, options.get("macvlan_mode")) or (
        MacvlanMode.BRIDGE if driver is Driver.MACVLAN else None)
    ipvlan_mode = _enum(IpvlanMode, options.get("ipvlan_mode")) or (
        IpvlanMode.L2 if driver is Driver.IPVLAN else None)
    network = Network(
        name=base.name,
        driver=driver,
        driver_name=driver_name or None,
        parent=options.get("parent") or None,
        macvlan_mode=macvlan_mode,
        ipvlan_mode=ipvlan_mode,
        subnets=tuple(subnets),
        mtu=int(mtu_text) if mtu_text.isdigit() else None,
        internal=bool(attrs.get("Internal")),
        attachable=bool(attrs.get("Attachable", True)),
        options=options,
        location=base.location,
        external=True,
        docker_name=base.docker_name,
    )
    in_use: dict[IPAddress, str] = {}
    for cid, member in (attrs.get("Containers") or {}).items():
        who = str(member.get("Name") or cid[:12])
        for key in ("IPv4Address", "IPv6Address"):
            text = member.get(key) or ""
            if text:
                in_use[ipaddress.ip_interface(text).ip] = who
    return FoundNetwork(network=network, docker_id=str(attrs.get("Id", "")),
                        docker_name=str(attrs.get("Name", base.name_on_docker)), in_use=in_use)


def read_network(client: Any, net: Network, where: str) -> FoundNetwork:
    """Inspect an external network on one daemon; a clear error (exit 3) when it is absent."""
    import docker.errors

    try:
        attrs = client.api.inspect_network(net.name_on_docker)
    except docker.errors.NotFound:
        named = f" (Docker name '{net.docker_name}')" if net.docker_name else ""
        raise RuntimeBuildError(
            f"{_at(net.location)}network '{net.name}'{named} is external, and {where} has no "
            f"network '{net.name_on_docker}'. netcheck never creates an external network: "
            "create it (docker network create ...) or point the scenario at the host that "
            "has it"
        ) from None
    return network_from_inspect(net, attrs)


def _at(location: Location | None) -> str:
    return f"{location}: " if location is not None else ""


def check_fixed_ips(
    endpoints: Sequence[Endpoint], found: Mapping[str, FoundNetwork]
) -> list[ScenarioError]:
    """A fixed `ip:` on an external network, against Docker's real subnets and the
    addresses its containers already hold (the loader could not know them)."""
    errors: list[ScenarioError] = []
    ours: dict[tuple[str, IPAddress], str] = {}
    for ep in endpoints:
        for att in ep.attachments:
            fn = found.get(att.network)
            if fn is None or att.ip is None:
                continue
            where = att.location or ep.location or Location(path="<scenario>", line=0)
            key = f"endpoints.{ep.name}.networks.{att.network}.ip"

            def err(message: str, hint: str | None = None, *, _w: Location = where,
                    _k: str = key) -> None:
                errors.append(ScenarioError(_w, _k, message, hint))

            net = fn.network
            home = next((s for s in net.subnets if att.ip in s.subnet), None)
            if home is None:
                listed = ", ".join(str(s.subnet) for s in net.subnets) or "no subnets"
                err(f"{att.ip} is not in external network '{net.name}' ({listed}, as Docker "
                    "has it)", "Pick an address in the network's subnet, or leave the ip out "
                    "and let Docker's IPAM choose")
                continue
            if att.ip in (home.subnet.network_address, home.subnet.broadcast_address):
                err(f"{att.ip} is not a host address of {home.subnet}")
                continue
            if att.ip == home.gateway:
                err(f"{att.ip} is the gateway of external network '{net.name}'")
                continue
            aux = next((n for n, a in home.aux_addresses.items() if a == att.ip), None)
            if aux is not None:
                err(f"{att.ip} is reserved by aux address '{aux}' of external network "
                    f"'{net.name}'", "Pick another address")
                continue
            holder = fn.in_use.get(att.ip)
            if holder is not None:
                err(f"{att.ip} is already used by container '{holder}' on external network "
                    f"'{net.name}'", "Pick a free address, or leave the ip out")
                continue
            earlier = ours.get((net.name, att.ip))
            if earlier is not None:
                err(f"{att.ip} is already given to endpoint '{earlier}'")
                continue
            ours[(net.name, att.ip)] = ep.name
    return errors


def inspect_running(client: Any, ep: Endpoint, where: str) -> dict[str, Any]:
    """An existing container's inspect document; a clear error (exit 3) unless it runs."""
    import docker.errors

    assert ep.container is not None
    try:
        info: dict[str, Any] = client.api.inspect_container(ep.container)
    except docker.errors.NotFound:
        raise RuntimeBuildError(
            f"{_at(ep.location)}endpoint '{ep.name}': container '{ep.container}' does not "
            f"exist on {where}"
        ) from None
    status = str((info.get("State") or {}).get("Status") or "unknown")
    if status != "running" or not int((info.get("State") or {}).get("Pid") or 0):
        raise RuntimeBuildError(
            f"{_at(ep.location)}endpoint '{ep.name}': container '{ep.container}' on {where} "
            f"is not running (status {status}). netcheck never starts a container it did "
            "not create"
        )
    return info


def local_site(info: Mapping[str, Any]) -> ContainerPid:
    """A container of this machine's daemon: its pid's namespace, pinned by inode."""
    pid = int(info["State"]["Pid"])
    inode = None
    with contextlib.suppress(OSError):
        inode = os.stat(f"/proc/{pid}/ns/net").st_ino
    return ContainerPid(container=str(info["Id"]), pid=pid, inode=inode)


def interface_shape(net: Network | None, host: str) -> tuple[str, str | None, str | None]:
    """Link kind, parent ("<host>:<ifname>") and mode of a container's interface on `net`."""
    if net is None:
        return "veth", None, None
    parent = f"{host}:{net.parent}" if net.parent and host else net.parent
    if net.driver is Driver.MACVLAN:
        return "macvlan", parent, (net.macvlan_mode.value if net.macvlan_mode else "bridge")
    if net.driver is Driver.IPVLAN:
        return "ipvlan", parent, (net.ipvlan_mode.value if net.ipvlan_mode else "l2")
    return "veth", None, None


def attachment_interfaces(
    settings: Mapping[str, Any],
    network: str,
    macs: Mapping[str, str],
    shape: tuple[str, str | None, str | None],
) -> list[Interface]:
    """The interfaces one network attachment of a container inspect gives (an IPv4 and an
    IPv6 address share the interface), named by MAC from the container's own links."""
    mac = (settings.get("MacAddress") or "").lower() or None
    ifname = macs.get(mac, "?") if mac else "?"
    kind, parent, mode = shape
    out: list[Interface] = []
    for addr_key, len_key in (
        ("IPAddress", "IPPrefixLen"),
        ("GlobalIPv6Address", "GlobalIPv6PrefixLen"),
    ):
        raw = settings.get(addr_key)
        if not raw:
            continue
        address: IPAddress = ipaddress.ip_address(raw)
        prefix = ipaddress.ip_network(f"{raw}/{settings.get(len_key)}", strict=False)
        out.append(Interface(ifname=ifname, network=network, address=address, prefix=prefix,
                             mac=mac, kind=kind, parent=parent, mode=mode))
    return out


def adopted_node(
    ep: Endpoint,
    key: str,
    info: Mapping[str, Any],
    site: ProbeSite,
    macs: Mapping[str, str],
    networks: Mapping[str, tuple[str, Network | None]],
) -> Node:
    """The node of an existing container, from its inspect document.

    `networks`: Docker network id -> (the name the scenario uses for it, its facts when
    known): an external network keeps its scenario name, so `to: web@prod100` works; any
    other network of the container appears under its Docker name.
    """
    settings_by_net = (info.get("NetworkSettings") or {}).get("Networks") or {}
    interfaces: list[Interface] = []
    user_defined = False
    for docker_net, settings in sorted(settings_by_net.items()):
        name, net = networks.get(str(settings.get("NetworkID") or ""), (docker_net, None))
        user_defined |= docker_net not in PREDEFINED
        interfaces += attachment_interfaces(settings, name, macs, interface_shape(net, key))
    return Node(
        name=ep.name,
        kind=NodeKind.ENDPOINT,
        site=site,
        interfaces=tuple(interfaces),
        host=key or None,
        listen=(),  # never a listener in a container netcheck did not create
        resolver=RESOLVER if user_defined else None,
        adopted=True,
    )


# --- reading a run's daemons ----------------------------------------------------------------

Where = Callable[[str], str]  # daemon key -> "host 'far' (unix://...)" for messages
ExistingInfo = tuple[dict[str, Any], dict[str, tuple[str, Network | None]]]


def read_external(
    plan: Plan,
    endpoints: Sequence[Endpoint],
    existing: Sequence[Endpoint],
    placement: Mapping[str, str],
    clients: Mapping[str, Any],
    where: Where,
) -> dict[tuple[str, str], FoundNetwork]:
    """External networks as each daemon has them: (daemon key, scenario name) -> facts.

    A network must exist where netcheck's own containers attach to it; it is also read,
    where it exists, on the daemons of the existing containers (so their interfaces on it
    carry the scenario's name), and, when neither names it, on every daemon that has it.
    """
    import docker.errors

    out: dict[tuple[str, str], FoundNetwork] = {}
    for net in (n for n in plan.networks if n.external):
        needed = sorted({placement[ep.name] for ep in endpoints
                         if any(a.network == net.name for a in ep.attachments)})
        for key in needed:
            out[(key, net.name)] = read_network(clients[key], net, where(key))
        optional = {placement[ep.name] for ep in existing} - set(needed)
        if not needed and not optional:
            optional = set(clients)
        for key in sorted(optional):
            with contextlib.suppress(RuntimeBuildError, docker.errors.APIError):
                out[(key, net.name)] = read_network(clients[key], net, where(key))
        if not any(name == net.name for _key, name in out):
            hosts = ", ".join(where(k) for k in clients)
            raise RuntimeBuildError(
                f"{_at(net.location)}network '{net.name}' is external, and no Docker host "
                f"of this run has a network '{net.name_on_docker}' ({hosts}). netcheck "
                "never creates an external network")
    return out


def read_existing(
    existing: Sequence[Endpoint],
    placement: Mapping[str, str],
    found: Mapping[tuple[str, str], FoundNetwork],
    clients: Mapping[str, Any],
    where: Where,
) -> dict[Endpoint, ExistingInfo]:
    """Each existing container's inspect document (it must be running), and the networks
    it sits on: Docker network id -> (its name in the topology, its facts)."""
    out: dict[Endpoint, ExistingInfo] = {}
    for ep in existing:
        key = placement[ep.name]
        client = clients[key]
        info = inspect_running(client, ep, where(key))
        by_id: dict[str, tuple[str, Network | None]] = {
            fn.docker_id: (name, fn.network) for (k, name), fn in found.items() if k == key
        }
        settings = (info.get("NetworkSettings") or {}).get("Networks") or {}
        for docker_net, conf in settings.items():
            nid = str(conf.get("NetworkID") or "")
            if not nid or nid in by_id:
                continue
            # A network the scenario does not name: read for its driver and parent.
            base = Network(name=docker_net, driver=None, external=True)
            try:
                by_id[nid] = (docker_net,
                              network_from_inspect(base, client.api.inspect_network(nid)).network)
            except Exception as exc:
                log.debug("inspect network %s on %s: %s", docker_net, key, exc)
                by_id[nid] = (docker_net, None)
        out[ep] = (info, by_id)
    return out
