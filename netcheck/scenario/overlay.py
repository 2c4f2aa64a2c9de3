"""Raw VXLAN devices between lab hosts (`lab.hosts.<h>.vxlan`): checked against the lab.

What the file tells is checked here, each mistake with its line: a remote that is no lab
host, a dev that is no uplink, a local address the host does not hold, a master network
that is no bridge network with an endpoint on this host, one VNI and port twice on a host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from netcheck.errors import Location
from netcheck.model.plan import (
    Driver,
    Endpoint,
    Host,
    IPAddress,
    Lab,
    Network,
    Uplink,
    Vxlan,
)
from netcheck.scenario.paths import Path
from netcheck.scenario.schema import HostSpec, VxlanSpec
from netcheck.scenario.suggest import hint_for, one_of

ErrFn = Callable[[Path, str, str | None], None]
LocateFn = Callable[[Path], Location]


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _peer(lab: Lab, host: Host, spec: VxlanSpec, path: Path, err: ErrFn
          ) -> tuple[IPAddress, Host] | None:
    """The remote's address and the lab host holding it."""
    address = _address(spec.remote)
    lab_hosts = [h for h in lab.hosts if h.docker_url is None and h.name != host.name]
    if address is not None:
        for other in lab.hosts:
            if any(u.ip == address for u in other.uplinks):
                if other.name == host.name:
                    err(path, f"vxlan remote {address} is this host's own address", None)
                    return None
                if other.docker_url is not None:
                    break
                return address, other
        held = [f"{h.name} {u.ip}" for h in lab_hosts for u in h.uplinks if u.ip is not None]
        err(path, f"vxlan remote {address} is no lab host's address",
            f"A remote is another lab host's uplink address or its name: {one_of(held)}"
            if held else "Declare the peer under lab.hosts with an uplink address")
        return None
    named = next((h for h in lab_hosts if h.name == spec.remote), None)
    if named is None:
        if spec.remote == host.name:
            err(path, f"vxlan remote '{spec.remote}' is this host itself",
                "The remote is the other end: another lab host")
        else:
            err(path, f"vxlan remote '{spec.remote}' is no lab host",
                hint_for(spec.remote, [h.name for h in lab_hosts], "lab hosts"))
        return None
    other = named
    mine = {u.lan for u in host.uplinks if u.ip is not None}
    with_ip = [u for u in other.uplinks if u.ip is not None]
    near = [u for u in with_ip if u.lan in mine] or with_ip
    if not near or near[0].ip is None:
        err(path, f"vxlan remote '{other.name}' has no uplink address to send to",
            f"Give one of {other.name}'s uplinks an ip, or write the remote as an address")
        return None
    return near[0].ip, other


def _dev(lab: Lab, host: Host, spec: VxlanSpec, remote: IPAddress, path: Path, err: ErrFn
         ) -> Uplink | None:
    names = [u.ifname for u in host.uplinks]
    if spec.dev is not None:
        uplink = next((u for u in host.uplinks if u.ifname == spec.dev), None)
        if uplink is None:
            err((*path, "dev"), f"'{spec.dev}' is not an uplink of host '{host.name}'",
                hint_for(spec.dev, names, "uplinks") if names else
                "Declare the uplink under lab.hosts.<host>.uplinks first")
        return uplink
    on_lan = [u for u in host.uplinks if u.ip is not None
              and remote in lab.lan(u.lan).subnet]
    found = on_lan or [u for u in host.uplinks if u.ip is not None]
    if not found:
        err(path, f"host '{host.name}' has no uplink with an address to carry the vxlan",
            "Give an uplink an ip (the underlay address the encapsulated packets leave from)")
        return None
    return found[0]


def _master(host: Host, spec: VxlanSpec, networks: Mapping[str, Network],
            endpoints: Sequence[Endpoint], single_host: bool, path: Path, err: ErrFn) -> bool:
    assert spec.master is not None
    net = networks.get(spec.master)
    if net is None:
        err((*path, "master"), f"unknown network '{spec.master}'",
            hint_for(spec.master, list(networks), "networks"))
        return False
    if net.driver is not Driver.BRIDGE:
        err((*path, "master"), f"network '{spec.master}' is a {net.driver} network: only a "
            "bridge network has a bridge to enslave the vxlan to", "Use driver: bridge")
        return False
    used = any(
        (ep.host == host.name or (ep.host is None and single_host))
        and any(a.network == net.name for a in ep.attachments)
        for ep in endpoints
    )
    if not used:
        err((*path, "master"), f"no endpoint on host '{host.name}' is on network "
            f"'{spec.master}': its bridge is built only for the host's containers",
            f"Attach an endpoint with host: {host.name} to {spec.master}")
        return False
    return True


def vxlans(lab: Lab, specs: Mapping[str, HostSpec], networks: Mapping[str, Network],
           endpoints: Sequence[Endpoint], err: ErrFn, locate: LocateFn) -> Lab:
    """The lab with each host's checked VXLAN devices."""
    hosts: list[Host] = []
    for host in lab.hosts:
        spec = specs.get(host.name)
        if spec is None or not spec.vxlan:
            hosts.append(host)
            continue
        out: list[Vxlan] = []
        taken = {u.ifname for u in host.uplinks} | {s.name for s in host.shims}
        seen: dict[tuple[int, int], str] = {}
        for name, vx in spec.vxlan.items():
            path: Path = ("lab", "hosts", host.name, "vxlan", name)
            if host.docker_url is not None:
                err(path, f"host '{host.name}' is a remote Docker host: netcheck builds vxlan "
                          "devices only on lab hosts", None)
                continue
            if name in taken:
                err(path, f"host '{host.name}' already has an interface named '{name}'",
                    "Give the vxlan device its own name, e.g. vxlan42")
                continue
            peer = _peer(lab, host, vx, (*path, "remote"), err)
            if peer is None:
                continue
            remote, other = peer
            dev = _dev(lab, host, vx, remote, path, err)
            if dev is None:
                continue
            own = [u.ip for u in host.uplinks if u.ip is not None]
            if vx.local is not None and vx.local not in own:
                err((*path, "local"), f"{vx.local} is not an address of host '{host.name}'",
                    f"Its uplink addresses: {one_of([str(a) for a in own])}" if own else
                    "Give the uplink an ip")
                continue
            if vx.local is None and dev.ip is None:
                err((*path, "dev"), f"uplink '{dev.ifname}' has no address to send from",
                    "Give it an ip, or set local:")
                continue
            if vx.master is not None and not _master(host, vx, networks, endpoints,
                                                     len(lab.hosts) == 1, path, err):
                continue
            key = (vx.vni, vx.port)
            if key in seen:
                err((*path, "vni"), f"vni {vx.vni} on port {vx.port} is already used by vxlan "
                    f"'{seen[key]}' of this host", "The kernel takes one VNI once per UDP port")
                continue
            seen[key] = name
            out.append(Vxlan(name=name, vni=vx.vni, remote=remote, remote_host=other.name,
                             local=vx.local, dev=dev.ifname, port=vx.port, mtu=vx.mtu,
                             master=vx.master, location=locate(path)))
        hosts.append(replace(host, vxlans=tuple(out)))
    return replace(lab, hosts=tuple(hosts))
