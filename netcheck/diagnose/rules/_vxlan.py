"""The raw VXLAN tunnel a probe's path crosses, with both ends' devices as the kernel has them.

Which device carries the probe comes from the topology (the host's vxlan interface on the
network the source reaches the target by); what it is (id, port, remote, local, MTU) is
read live from each host, so evidence is what the kernel holds, not what the file said.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.diagnose.base import Case
from netcheck.diagnose.live import VxlanInfo
from netcheck.diagnose.rules._common import on_link, source_node, target_node
from netcheck.model.plan import NodeKind
from netcheck.model.results import Node


@dataclass(frozen=True, slots=True, kw_only=True)
class Tunnel:
    near_host: Node
    near: VxlanInfo  # the device on the source's host that carries the probe
    far_host: Node
    far: VxlanInfo  # the target host's device on the same network, pointing back

    def lines(self) -> list[str]:
        return [describe(self.near_host, self.near), describe(self.far_host, self.far)]


def describe(host: Node, v: VxlanInfo) -> str:
    """One device as `ip -d link` would show it (read from the host)."""
    words = [f"{host.name} {v.ifname}: vxlan id {v.vni}"]
    if v.remote:
        words.append(f"remote {v.remote}")
    if v.local:
        words.append(f"local {v.local}")
    words.append(f"dstport {v.port}")
    if v.dev:
        words.append(f"dev {v.dev}")
    if v.master:
        words.append(f"master {v.master}")
    words.append(f"mtu {v.mtu}")
    return " ".join(words)


def host_of(case: Case, node: Node | None) -> Node | None:
    if node is None:
        return None
    if node.kind is NodeKind.HOST:
        return node
    return case.topology.nodes.get(node.host) if node.host is not None else None


def _devices(case: Case, host: Node, network: str) -> list[VxlanInfo]:
    names = {i.ifname for i in host.interfaces if i.kind == "vxlan" and i.network == network}
    if not names or host.site.netns is None:
        return []
    return [v for v in case.live.vxlans(host.netns) if v.ifname in names]


def path_vxlans(case: Case) -> list[tuple[Node, VxlanInfo]]:
    """The vxlan devices on the source host's side of the probe's network (any peer)."""
    src = source_node(case)
    host = host_of(case, src)
    if src is None or host is None:
        return []
    iface = on_link(src, case.result.target_address)
    if iface is None:
        return []
    return [(host, v) for v in _devices(case, host, iface.network)]


def tunnel(case: Case) -> Tunnel | None:
    """The probe's source and target sit on one network of two hosts joined by vxlan."""
    src, dst = source_node(case), target_node(case)
    near_host, far_host = host_of(case, src), host_of(case, dst)
    if src is None or dst is None or near_host is None or far_host is None:
        return None
    if near_host.name == far_host.name:
        return None
    iface = on_link(src, case.result.target_address)
    if iface is None:
        return None
    far_addresses = {str(i.address) for i in far_host.interfaces if i.address is not None}
    for near in _devices(case, near_host, iface.network):
        if near.remote not in far_addresses:
            continue
        for far in _devices(case, far_host, iface.network):
            if far.remote is not None and far.remote == near.local:
                return Tunnel(near_host=near_host, near=near, far_host=far_host, far=far)
    return None
