"""The host's network state, as far as reachability depends on it: a snapshot to diff later.

Links, addresses, routes and rules come from netlink (pyroute2); the sysctls that decide
forwarding and reverse-path filtering come from procfs. Net sysctls are per namespace and
the main process never calls setns, so a namespace's sysctls are read by a short-lived
forked child that enters it. Docker networks are read when a daemon answers.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import platform
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netcheck.model.results import Topology
from netcheck.runtime.naming import SWITCH

log = logging.getLogger(__name__)

ROOT = "host"  # the key of the machine's own (root) namespace in a snapshot
# The key of a lab's switch namespace (its LAN bridges and their ports): no node name has a
# space, so it cannot clash with one.
LAB_SWITCH = "lab switch"

# Per-interface sysctls that decide whether a packet is forwarded, answered or dropped.
CONF_KEYS = ("rp_filter", "log_martians", "arp_ignore", "arp_announce", "forwarding")
GLOBAL_KEYS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")

_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_TABLES = {253: "default", 254: "main", 255: "local"}
_PROTOS = {2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
_RULE_MATCHES = (("FRA_IIFNAME", "iif"), ("FRA_OIFNAME", "oif"), ("FRA_FWMARK", "fwmark"))
_RTNH_F_ONLINK = 4  # `ip route add ... onlink`: the gateway is on the link whatever the subnet
_RULE_ACTIONS = {1: "lookup", 2: "goto", 6: "blackhole", 7: "unreachable", 8: "prohibit"}


@dataclass(frozen=True, slots=True, kw_only=True)
class NetnsSnapshot:
    """One namespace: links by name (attributes as text), addresses, routes, rules, sysctls."""

    links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # ifname -> cidrs
    routes: tuple[str, ...] = ()  # one line each, `ip route` style
    rules: tuple[str, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)  # "net.ipv4.conf.eth0.rp_filter"
    # Static neighbour entries only (PERMANENT/NOARP), `ip neigh` style: learned ones churn.
    neighbours: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSnapshot:
    taken_at: str
    hostname: str
    kernel: str
    # ROOT for the machine itself; a lab's node names for the namespaces a run built.
    namespaces: Mapping[str, NetnsSnapshot] = field(default_factory=dict)
    # None: no Docker daemon answered (not the same as a daemon with no networks).
    docker_networks: Mapping[str, Mapping[str, str]] | None = None
    run_id: str | None = None  # set when taken of a run's topology: names carry it


# --- reading ------------------------------------------------------------------------------------


_VXLAN_ATTRS = (
    ("IFLA_VXLAN_PORT", "dstport"), ("IFLA_VXLAN_GROUP", "remote"),
    ("IFLA_VXLAN_GROUP6", "remote"), ("IFLA_VXLAN_LOCAL", "local"),
    ("IFLA_VXLAN_LOCAL6", "local"),
)


# Link kinds whose operstate follows their carrier; "UNKNOWN" on them is only transient
# (a vxlan, dummy or lo says UNKNOWN for good, and keeps it here).
_CARRIER_KINDS = ("bridge", "veth")


def _attr(msg: Any, name: str) -> Any:
    return msg.get_attr(name)


def _links(ipr: Any) -> tuple[dict[str, dict[str, str]], dict[int, str]]:
    links: dict[str, dict[str, str]] = {}
    names: dict[int, str] = {}
    msgs = list(ipr.get_links())
    for msg in msgs:
        names[int(msg["index"])] = str(_attr(msg, "IFLA_IFNAME"))
    for msg in msgs:
        name = names[int(msg["index"])]
        info = _attr(msg, "IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        state = str(_attr(msg, "IFLA_OPERSTATE") or "UNKNOWN")
        if state == "UNKNOWN" and kind in _CARRIER_KINDS:
            # Not yet told: linkwatch hands a new bridge or veth its state up to ~1 s late.
            # Its carrier is already known, and is what the operstate will say.
            state = "UP" if _attr(msg, "IFLA_CARRIER") else "DOWN"
        attrs: dict[str, str] = {"state": state, "mtu": str(_attr(msg, "IFLA_MTU") or 0)}
        if kind:
            attrs["kind"] = str(kind)
        if info is not None and kind in ("macvlan", "macvtap", "ipvlan", "vxlan"):
            data = info.get_attr("IFLA_INFO_DATA")
            if data is not None:
                for key in ("IFLA_MACVLAN_MODE", "IFLA_IPVLAN_MODE", "IFLA_VXLAN_ID"):
                    value = data.get_attr(key)
                    if value is not None:
                        attrs["mode" if key.endswith("MODE") else "vni"] = str(value)
                # A raw VXLAN's ends and port: a diff names a changed remote or dstport.
                for key, field in _VXLAN_ATTRS:
                    value = data.get_attr(key)
                    if value is not None and kind == "vxlan":
                        attrs[field] = str(value)
        master = _attr(msg, "IFLA_MASTER")
        if master:
            attrs["master"] = names.get(int(master), str(master))
            # A bridge port that reflects frames back out of itself (per-port hairpin, the
            # VEPA upstream port): a diff names the port that stopped or started.
            slave = info.get_attr("IFLA_INFO_SLAVE_DATA") if info is not None else None
            if info is not None and info.get_attr("IFLA_INFO_SLAVE_KIND") == "bridge" \
                    and slave is not None:
                mode = slave.get_attr("IFLA_BRPORT_MODE")
                if mode is not None:
                    attrs["hairpin"] = "on" if int(mode) else "off"
        parent = _attr(msg, "IFLA_LINK")
        if parent and int(parent) != int(msg["index"]):
            # A parent in another namespace (veth peer) shows as an index only.
            attrs["link"] = names.get(int(parent), f"if{parent}")
        links[name] = attrs
    return links, names


def _addresses(ipr: Any, names: Mapping[int, str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for msg in ipr.get_addr():
        ifname = names.get(int(msg["index"]), str(msg["index"]))
        addr = _attr(msg, "IFA_ADDRESS") or _attr(msg, "IFA_LOCAL")
        if addr is None:
            continue
        out.setdefault(ifname, []).append(f"{addr}/{msg['prefixlen']}")
    return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def _route_line(msg: Any, names: Mapping[int, str]) -> str:
    dst = _attr(msg, "RTA_DST")
    parts = [f"{dst}/{msg['dst_len']}" if dst else "default"]
    gateway = _attr(msg, "RTA_GATEWAY")
    if gateway:
        parts.append(f"via {gateway}")
    oif = _attr(msg, "RTA_OIF")
    if oif:
        parts.append(f"dev {names.get(int(oif), oif)}")
    table = int(_attr(msg, "RTA_TABLE") or msg["table"])
    if table != 254:
        parts.append(f"table {_TABLES.get(table, table)}")
    proto = int(msg["proto"])
    if proto in _PROTOS and proto != 3:
        parts.append(f"proto {_PROTOS[proto]}")
    scope = int(msg["scope"])
    if scope:
        parts.append(f"scope {_SCOPES.get(scope, scope)}")
    src = _attr(msg, "RTA_PREFSRC")
    if src:
        parts.append(f"src {src}")
    if int(msg["flags"]) & _RTNH_F_ONLINK:
        parts.append("onlink")
    if int(msg["type"]) not in (1, 2):  # not unicast/local: blackhole, unreachable, ...
        parts.append(f"type {msg['type']}")
    return " ".join(str(p) for p in parts)


def _routes(ipr: Any, names: Mapping[int, str]) -> tuple[str, ...]:
    lines = set()
    for family, label in ((socket.AF_INET, ""), (socket.AF_INET6, "inet6 ")):
        for msg in ipr.route("dump", family=family):
            table = int(_attr(msg, "RTA_TABLE") or msg["table"])
            if table == 255:  # the local table mirrors addresses; its churn is noise
                continue
            lines.add(label + _route_line(msg, names))
    return tuple(sorted(lines))


def _rules(ipr: Any) -> tuple[str, ...]:
    lines = []
    for family, label in ((socket.AF_INET, ""), (socket.AF_INET6, "inet6 ")):
        for msg in ipr.get_rules(family=family):
            prio = _attr(msg, "FRA_PRIORITY") or 0
            parts = [f"{prio}:"]
            src = _attr(msg, "FRA_SRC")
            parts.append(f"from {src}/{msg['src_len']}" if src else "from all")
            dst = _attr(msg, "FRA_DST")
            if dst:
                parts.append(f"to {dst}/{msg['dst_len']}")
            for key, word in _RULE_MATCHES:
                value = _attr(msg, key)
                if value:
                    parts.append(f"{word} {value}")
            action = int(msg["action"])
            table = int(_attr(msg, "FRA_TABLE") or msg["table"])
            word = _RULE_ACTIONS.get(action, f"action{action}")
            parts.append(f"{word} {_TABLES.get(table, table)}" if action == 1 else word)
            lines.append(label + " ".join(str(p) for p in parts))
    return tuple(sorted(lines))


_NUD_STATIC = {0x80: "PERMANENT", 0x40: "NOARP"}


def _kernel_made(dst: str) -> bool:
    """The kernel's own NOARP entries: multicast groups (ff02::1:ffXX:XXXX follows each
    run's random MAC) and 0.0.0.0 on lo. A diff naming them would report noise."""
    try:
        address = ipaddress.ip_address(dst)
    except ValueError:
        return False
    return address.is_multicast or address.is_unspecified


def _neighbours(ipr: Any, names: Mapping[int, str]) -> tuple[str, ...]:
    lines = set()
    for msg in ipr.get_neighbours():
        state = int(msg["state"])
        words = [w for bit, w in _NUD_STATIC.items() if state & bit]
        dst = _attr(msg, "NDA_DST")
        if not words or dst is None or _kernel_made(str(dst)):
            continue
        mac = _attr(msg, "NDA_LLADDR")
        dev = names.get(int(msg["ifindex"]), msg["ifindex"])
        lines.add(f"{dst} dev {dev}" + (f" lladdr {mac}" if mac else "") + f" {words[0]}")
    return tuple(sorted(lines))


def read_sysctls_here(ifnames: Iterable[str] | None = None) -> dict[str, str]:
    """The sysctls that matter, as seen by this process's namespace."""
    base = Path("/proc/sys/net/ipv4/conf")
    values: dict[str, str] = {}
    for key in GLOBAL_KEYS:
        path = Path("/proc/sys") / key.replace(".", "/")
        try:
            values[key] = path.read_text(encoding="ascii").strip()
        except OSError:
            continue
    try:
        present = sorted(p.name for p in base.iterdir())
    except OSError:
        return values
    wanted = set(ifnames) | {"all", "default"} if ifnames is not None else set(present)
    for ifname in present:
        if ifname not in wanted:
            continue
        for key in CONF_KEYS:
            try:
                text = (base / ifname / key).read_text(encoding="ascii").strip()
            except OSError:
                continue
            values[f"net.ipv4.conf.{ifname}.{key}"] = text
    return values


def _enter_netns(path: str) -> None:
    import ctypes
    import ctypes.util

    setns = getattr(os, "setns", None)  # Python >= 3.12
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if setns is not None:
            setns(fd, 0x40000000)
            return
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.setns(fd, 0x40000000) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def read_sysctls(netns: str | None) -> dict[str, str]:
    """Sysctls of `netns` (a path), or of our own namespace when None."""
    if netns is None:
        return read_sysctls_here()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: enter, read, report, leave without cleanup
        code = 1
        try:
            os.close(rfd)
            _enter_netns(netns)
            data = json.dumps(read_sysctls_here()).encode()
            with os.fdopen(wfd, "wb") as fh:
                fh.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as fh:
        raw = fh.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not raw:
        log.warning("could not read sysctls in %s", netns)
        return {}
    values = json.loads(raw)
    return {str(k): str(v) for k, v in values.items()}


def snapshot_netns(netns: str | None) -> NetnsSnapshot:
    """Read one namespace (a path such as /run/netns/X), or our own when None."""
    from pyroute2 import IPRoute

    kwargs: dict[str, Any] = {} if netns is None else {"netns": netns, "flags": 0}
    with IPRoute(**kwargs) as ipr:
        links, names = _links(ipr)
        addresses = _addresses(ipr, names)
        routes = _routes(ipr, names)
        rules = _rules(ipr)
        neighbours = _neighbours(ipr, names)
    return NetnsSnapshot(
        links=links, addresses=addresses, routes=routes, rules=rules, sysctls=read_sysctls(netns),
        neighbours=neighbours,
    )


def docker_networks(docker_host: str | None = None) -> dict[str, dict[str, str]] | None:
    """Docker networks with what decides reachability, or None when no daemon answers."""
    try:
        import docker

        client = (
            docker.DockerClient(base_url=docker_host)
            if docker_host
            else (docker.from_env(timeout=3))
        )
        try:
            nets = client.networks.list()
        finally:
            client.close()
    except Exception as exc:  # any failure means "no daemon to read"
        log.debug("docker networks: %s", exc)
        return None
    out: dict[str, dict[str, str]] = {}
    for net in nets:
        attrs = net.attrs or {}
        info: dict[str, str] = {"driver": str(attrs.get("Driver", ""))}
        for key, value in sorted((attrs.get("Options") or {}).items()):
            info[f"option.{key}"] = str(value)
        configs = (attrs.get("IPAM") or {}).get("Config") or []
        for i, cfg in enumerate(configs):
            for key in ("Subnet", "Gateway", "IPRange"):
                if cfg.get(key):
                    info[f"ipam.{i}.{key.lower()}"] = str(cfg[key])
        if attrs.get("Internal"):
            info["internal"] = "true"
        out[str(attrs.get("Name", net.name))] = info
    return out


def _header(run_id: str | None = None) -> dict[str, Any]:
    return {
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "kernel": platform.release(),
        "run_id": run_id,
    }


def take_snapshot(*, docker: bool = True, docker_host: str | None = None) -> HostSnapshot:
    """`netcheck snapshot`: this machine's own namespace, and its Docker networks."""
    return HostSnapshot(
        **_header(),
        namespaces={ROOT: snapshot_netns(None)},
        docker_networks=docker_networks(docker_host) if docker else None,
    )


def snapshot_topology(
    topology: Topology, *, root: bool = True, docker_host: str | None = None
) -> HostSnapshot:
    """A run's snapshot, taken before teardown: every namespace the run built (by node name),
    the machine's own namespace, and Docker networks when the runtime is docker."""
    namespaces: dict[str, NetnsSnapshot] = {}
    if root:
        namespaces[ROOT] = snapshot_netns(None)
    for name, node in sorted(topology.nodes.items()):
        if node.site.netns is None:
            continue  # a container on another Docker host: nothing to read from here
        try:
            namespaces[name] = snapshot_netns(node.netns)
        except OSError as exc:
            log.warning("snapshot of %s (%s): %s", name, node.netns, exc)
    switch = topology.lab_netns.get(SWITCH)
    if switch is not None:
        # The lab switch holds what no node sees: its ports' hairpin and carrier.
        try:
            namespaces[LAB_SWITCH] = snapshot_netns(switch)
        except OSError as exc:
            log.warning("snapshot of the lab switch (%s): %s", switch, exc)
    nets = docker_networks(docker_host) if topology.runtime == "docker" else None
    return HostSnapshot(**_header(topology.run_id), namespaces=namespaces, docker_networks=nets)
