"""Endpoints: the hosts' bridges for bridge networks, then each endpoint's attachments."""

from __future__ import annotations

import errno
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from netcheck.model.plan import Driver, Plan
from netcheck.runtime.naming import LOCAL_HOST, unique_ifname
from netcheck.runtime.netns.context import BuildContext, Built, BuiltIf, describe, refused
from netcheck.runtime.netns.ipam import default_subnet, gateway_of
from netcheck.runtime.netns.layout import AttachmentSpec, EndpointLayout, EndpointSpec
from netcheck.runtime.netns.steps.lab import host_used

IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}


def host_bridges(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """A `br-<net>` bridge holding the gateway, per bridge network a host's endpoints use."""
    for host, networks in layout.host_bridges.items():
        ipr = ctx.ipr[host]
        used = built.host_used.setdefault(host, host_used(plan, host))
        for net_name in networks:
            net = plan.network(net_name)
            name = unique_ifname(f"br-{net_name}", used)
            used.add(name)
            ctx.step = f"creating bridge {name} for network {net_name} in {host}"
            extra: dict[str, Any] = {"mtu": net.mtu} if net.mtu else {}
            ipr.link(
                "add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0,
                state="up", **extra,
            )
            index = ipr.link_lookup(ifname=name)[0]
            ipr.link("set", index=index, ifalias=ctx.alias)
            built.bridge_index[(host, net_name)] = index
            built.bridge_namespaces.add(host)
            first = default_subnet(net)
            for subnet in net.subnets:
                gw = gateway_of(subnet)
                if gw is None:
                    continue
                ctx.address(host, name, gw, subnet.subnet)
                if host != LOCAL_HOST and subnet is first:
                    built.add_if(host, BuiltIf(name, net_name, gw, subnet.subnet, "bridge"))


def endpoints(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Every endpoint's attachments in order, then its default routes (one per family)."""
    for ep in layout.endpoints:
        for index, att in enumerate(ep.attachments):
            try:
                attach(ctx, built, ep, index, att)
            except NetlinkError as exc:
                # An MTU above the parent's: validate checks what the file says of a lab
                # parent; the kernel is the judge of the rest.
                if not att.mtu or exc.code != errno.EINVAL or not ctx.step.startswith(
                    "creating "
                ):
                    raise
                raise refused(
                    plan.network(att.network).location,
                    f"network {att.network}: {ctx.step}: the kernel refused mtu "
                    f"{att.mtu}: {describe(exc)}",
                    "A macvlan or ipvlan interface cannot have a larger MTU than its parent",
                ) from exc
        endpoint_routes(built, ep)


def staging(index: int) -> str:
    # Kernels before ~6.3 check a new link's name in the namespace that creates it even
    # when it is born in another one (EEXIST for a child `eth0` of parent `eth0`), so a
    # child is born under a name no host uses and renamed where it lives.
    return f"ncstage{index}"


def _unstage(ctx: BuildContext, node: str, index: int, ifname: str) -> None:
    ipr = ctx.ipr[node]
    ipr.link("set", index=ipr.link_lookup(ifname=staging(index))[0], ifname=ifname)


def attach(
    ctx: BuildContext, built: Built, ep: EndpointSpec, index: int, att: AttachmentSpec
) -> None:
    """One attachment: a macvlan/ipvlan child of the host's uplink or a veth into the
    host's bridge, named `att.ifname` inside the endpoint, up, with its addresses."""
    ctx.step = f"attaching {ep.name}:{att.ifname} to network {att.network}"
    with ctx.netns_fd(ep.name) as ns:
        _create_link(ctx, built, ep, index, att, ns)
    ctx.up(ep.name, att.ifname)
    for address, subnet in (
        (att.address, att.subnet), *((m.address, m.subnet) for m in att.more)
    ):
        ctx.address(ep.name, att.ifname, address, subnet.subnet)
        built.add_if(ep.name, BuiltIf(
            att.ifname, att.network, address, subnet.subnet,
            "veth" if att.driver is Driver.BRIDGE else att.driver.value,
            parent=f"{ep.host}:{att.parent}" if att.parent else None,
            mode=att.mode,
        ))


def _create_link(
    ctx: BuildContext, built: Built, ep: EndpointSpec, index: int, att: AttachmentSpec,
    ns: int,
) -> None:
    """The attachment's link, born in the endpoint's namespace (`ns`, an fd)."""
    host = ctx.ipr[ep.host]
    common: dict[str, Any] = {"net_ns_fd": ns}
    if att.mtu:
        common["mtu"] = att.mtu
    if att.mac:
        common["address"] = att.mac
    where = f"{ep.host}:{att.parent}"
    if att.driver is Driver.MACVLAN:
        ctx.step = f"creating macvlan {ep.name}:{att.ifname} on {where} ({att.mode})"
        parent = built.uplink_index[(ep.host, str(att.parent))]
        host.link(
            "add", ifname=staging(index), kind="macvlan", link=parent,
            macvlan_mode=att.mode, **common,
        )
        _unstage(ctx, ep.name, index, att.ifname)
    elif att.driver is Driver.IPVLAN:
        ctx.step = f"creating ipvlan {ep.name}:{att.ifname} on {where} ({att.mode})"
        parent = built.uplink_index[(ep.host, str(att.parent))]
        common.pop("address", None)
        host.link(
            "add", ifname=staging(index), kind="ipvlan", link=parent,
            ipvlan_mode=IPVLAN_MODES[str(att.mode)], **common,
        )
        _unstage(ctx, ep.name, index, att.ifname)
    else:
        used = built.host_used.setdefault(ep.host, {"lo"})
        host_end = unique_ifname(f"veth{index}-{ep.name}", used)
        used.add(host_end)
        bridge = built.bridge_index[(ep.host, att.network)]
        ctx.step = f"creating veth {ep.name}:{att.ifname} to {ep.host}:{host_end}"
        peer: dict[str, Any] = {"ifname": att.ifname, **common}
        host.link(
            "add", ifname=host_end, kind="veth", master=bridge, state="up",
            peer=peer, **({"mtu": att.network_mtu} if att.network_mtu else {}),
        )
        host_index = host.link_lookup(ifname=host_end)[0]
        host.link("set", index=host_index, ifalias=ctx.alias)


def endpoint_routes(built: Built, ep: EndpointSpec) -> None:
    """The endpoint's default routes: the first gateway of each family, in attachment order."""
    families: set[int] = set()
    for att in ep.attachments:
        for gateway in att.gateways:
            if gateway.version not in families:
                families.add(gateway.version)
                built.routes.setdefault(ep.name, []).append(gateway)
