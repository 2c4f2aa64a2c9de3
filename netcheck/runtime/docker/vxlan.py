"""Raw VXLAN devices between lab hosts under the docker runtime (`lab.hosts.<h>.vxlan`).

The netns underlay creates every device (runtime/netns/vxlan.py: the same netlink request
and the same file:line refusals) but leaves a `master:` device out of any bridge: the
network's bridge is Docker's own, made later by the lab host's dockerd when it creates
the network. This step then does what a user does on a Docker host:

    ip link set NAME master br-<network id[:12]>     (or com.docker.network.bridge.name)

The device lives in the lab host's namespace and goes with it at teardown; the bridge is
the lab dockerd's. Nothing netcheck did not create is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pyroute2 import IPRoute

from netcheck.model.plan import Host, Plan, Vxlan
from netcheck.model.results import Node
from netcheck.nsenter import netlink_fd
from netcheck.runtime.docker.handles import DaemonHandle
from netcheck.runtime.netns.context import refused

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


def underlay_host(host: Host) -> Host:
    """The host as the underlay builds it: its VXLAN devices in no bridge yet."""
    if not any(vx.master is not None for vx in host.vxlans):
        return host
    return replace(host, vxlans=tuple(replace(vx, master=None) for vx in host.vxlans))


def to_enslave(plan: Plan) -> dict[str, list[Vxlan]]:
    """Lab host -> its devices that join a network's bridge."""
    out: dict[str, list[Vxlan]] = {}
    for host in plan.lab.hosts:
        if host.docker_url is None:
            wanted = [vx for vx in host.vxlans if vx.master is not None]
            if wanted:
                out[host.name] = wanted
    return out


def bridge_name(attrs: Mapping[str, Any]) -> str:
    """The Linux bridge of a Docker bridge network, from its inspect document: the name
    the network was given, else Docker's br-<first 12 of its id>."""
    given = (attrs.get("Options") or {}).get(BRIDGE_NAME_OPTION)
    return str(given) if given else f"br-{str(attrs['Id'])[:12]}"


def with_master(node: Node, vx: Vxlan) -> Node:
    """The host's node with the device on the network whose bridge it joined (the
    diagnosis finds a probe's tunnel by that network)."""
    assert vx.master is not None
    return replace(node, interfaces=tuple(
        replace(i, network=vx.master) if i.ifname == vx.name and i.kind == "vxlan" else i
        for i in node.interfaces
    ))


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def enslave(host: str, netns: str, devices: Mapping[str, str], vxlans: list[Vxlan]) -> None:
    """Make each device a port of its network's bridge (`devices`: network -> bridge name)
    in the lab host's namespace."""
    ipr = IPRoute(fileno=netlink_fd(netns))
    try:
        for vx in vxlans:
            assert vx.master is not None
            bridge = devices[vx.master]
            master = _index(ipr, bridge)
            index = _index(ipr, vx.name)
            if master is None or index is None:
                missing = bridge if master is None else vx.name
                raise refused(vx.location, f"vxlan {host}:{vx.name}: no link {missing} in "
                              f"{host}'s namespace to join network {vx.master}")
            ipr.link("set", index=index, master=master)
    finally:
        ipr.close()


def enslave_all(plan: Plan, daemons: Mapping[str, DaemonHandle],
                nodes: dict[str, Node]) -> None:
    """Build step, once each lab dockerd created its networks: every `master:` device
    joins its network's bridge on its host; the host's node says so."""
    for host, vxlans in to_enslave(plan).items():
        d = daemons[host]
        devices: dict[str, str] = {}
        for vx in vxlans:
            assert vx.master is not None
            nid = d.networks.get(vx.master)
            if nid is None:
                raise refused(vx.location, f"vxlan {host}:{vx.name}: network {vx.master} "
                              f"was not created on {host}")
            devices[vx.master] = bridge_name(d.client.api.inspect_network(nid))
        enslave(host, nodes[host].netns, devices, vxlans)
        for vx in vxlans:
            nodes[host] = with_master(nodes[host], vx)
