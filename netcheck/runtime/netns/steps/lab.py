"""The lab underlay: the switch's LAN bridges, router legs, machines, host uplinks, shims."""

from __future__ import annotations

import ipaddress

from netcheck.model.plan import IPAddress, IPNetwork, Lan, Plan, Shim
from netcheck.runtime.naming import LOCAL_HOST, SWITCH, unique_ifname
from netcheck.runtime.netns.context import BuildContext, Built, BuiltIf
from netcheck.runtime.netns.layout import EndpointLayout
from netcheck.runtime.netns.trunks import Trunk, TrunkMember, plan_trunks


def switch_bridges(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """One bridge per LAN in the switch, STP off, forward delay 0."""
    sw = ctx.ipr[SWITCH]
    for lan in plan.lab.lans:
        name = unique_ifname(lan.name, built.switch_used)
        built.switch_used.add(name)
        ctx.step = f"creating bridge {name} for LAN {lan.name} in the switch"
        sw.link(
            "add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0,
            mtu=lan.mtu, state="up",
        )
        index = sw.link_lookup(ifname=name)[0]
        sw.link("set", index=index, ifalias=ctx.alias)
        built.lan_bridge[lan.name] = index
        built.bridge_namespaces.add(SWITCH)


def machine_prefix(ip: IPAddress, subnet: IPNetwork) -> IPNetwork:
    """The LAN's subnet, or for an address off it (reached by on-link routes) the address
    alone, as `ip addr add 192.168.9.5/32 dev eth0` leaves it."""
    if ip.version == subnet.version and ip in subnet:
        return subnet
    return ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")


def router_legs(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Each router's legs: one veth per LAN it names, holding the leg's address (for
    `router:` the LAN's gateway on every LAN with one)."""
    for router in plan.lab.all_routers:
        r_used: set[str] = {"lo"}
        for leg in plan.lab.legs(router):
            lan = plan.lab.lan(leg.lan)
            ifname = unique_ifname(lan.name, r_used)
            r_used.add(ifname)
            wire(ctx, built, lan, f"{router.name}-{lan.name}", router.name, ifname)
            ctx.address(router.name, ifname, leg.ip, lan.subnet)
            built.add_if(router.name, BuiltIf(ifname, lan.name, leg.ip, lan.subnet, "veth"))


def machines(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Each machine's eth0 on its LAN, with the LAN's gateway as its default route."""
    for machine in plan.lab.machines:
        lan = plan.lab.lan(machine.lan)
        wire(ctx, built, lan, machine.name, machine.name, "eth0", mtu=machine.mtu)
        own = machine_prefix(machine.ip, lan.subnet)
        ctx.address(machine.name, "eth0", machine.ip, own)
        built.add_if(machine.name, BuiltIf("eth0", lan.name, machine.ip, own, "veth"))
        if (lan.gateway is not None and lan.gateway != machine.ip
                and machine.stack.default_route):
            built.routes.setdefault(machine.name, []).append(lan.gateway)


def host_uplinks(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Each host's uplinks (plain, or tagged on a real 802.1q trunk) and its shims."""
    available = ctx.features.available if ctx.features is not None else ()
    trunks = plan_trunks(plan.lab, available)
    built.trunk_facts = trunks.facts()
    for host in plan.lab.hosts:
        route_set = False
        for uplink in host.uplinks:
            lan = plan.lab.lan(uplink.lan)
            tagged = trunks.member(host.name, uplink.ifname)
            if tagged is not None:
                index = wire_tagged(ctx, built, plan, *tagged, mtu=uplink.mtu,
                                    hairpin=uplink.hairpin)
            else:
                index = wire(
                    ctx, built, lan, f"{host.name}-{uplink.ifname}", host.name, uplink.ifname,
                    mtu=uplink.mtu, hairpin=uplink.hairpin,
                )
            built.uplink_index[(host.name, uplink.ifname)] = index
            if uplink.ip is not None:
                ctx.address(host.name, uplink.ifname, uplink.ip, lan.subnet)
                if (not route_set and lan.gateway is not None and lan.gateway != uplink.ip
                        and host.stack.default_route):
                    built.routes.setdefault(host.name, []).append(lan.gateway)
                    route_set = True
            built.add_if(host.name, BuiltIf(uplink.ifname, lan.name, uplink.ip, lan.subnet,
                                            "veth"))
        lan_of = {u.ifname: u.lan for u in host.uplinks}
        for shim in host.shims:
            build_shim(ctx, built, plan, host.name, shim, lan_of[shim.parent])


def host_used(plan: Plan, host: str) -> set[str]:
    """Interface names a host (or LOCAL_HOST) has before its endpoints are attached."""
    used = {"lo"}
    if host != LOCAL_HOST:
        used.update(u.ifname for u in plan.lab.host(host).uplinks)
    return used


def build_shim(
    ctx: BuildContext, built: Built, plan: Plan, host: str, shim: Shim, lan: str
) -> None:
    """The host's own macvlan child on `shim.parent`, with a host route per range."""
    ipr = ctx.ipr[host]
    built.host_used.setdefault(host, host_used(plan, host)).add(shim.name)
    ctx.step = f"creating macvlan shim {host}:{shim.name} on {shim.parent}"
    ipr.link(
        "add", ifname=shim.name, kind="macvlan",
        link=built.uplink_index[(host, shim.parent)], macvlan_mode="bridge", state="up",
    )
    index = ipr.link_lookup(ifname=shim.name)[0]
    ipr.link("set", index=index, ifalias=ctx.alias)
    prefix = ipaddress.ip_network(f"{shim.ip}/{shim.ip.max_prefixlen}")
    ctx.address(host, shim.name, shim.ip, prefix)
    for route in shim.routes:
        ctx.step = f"adding route {route} dev {shim.name} in {host}"
        ipr.route("add", dst=str(route), oif=index)
    built.add_if(host, BuiltIf(shim.name, lan, shim.ip, prefix, "macvlan",
                               parent=f"{host}:{shim.parent}", mode="bridge"))


def wire(
    ctx: BuildContext, built: Built, lan: Lan, port_wanted: str, node: str, inner: str,
    *, mtu: int | None = None, hairpin: bool = False,
) -> int:
    """A veth from the LAN's bridge in the switch to `inner` in `node`; both ends up.

    `mtu` is the node end's MTU when it differs from the LAN's: a frame bigger than the
    switch port's MTU is then dropped silently, like a too-small underlay."""
    sw = ctx.ipr[SWITCH]
    port = unique_ifname(port_wanted, built.switch_used)
    built.switch_used.add(port)
    built.switch_port[(node, inner)] = port
    ctx.step = f"creating veth {port} (switch, LAN {lan.name}) to {node}:{inner}"
    with ctx.netns_fd(node) as ns:
        sw.link(
            "add", ifname=port, kind="veth", master=built.lan_bridge[lan.name], state="up",
            mtu=lan.mtu, peer={"ifname": inner, "net_ns_fd": ns, "mtu": mtu or lan.mtu},
        )
    port_index = sw.link_lookup(ifname=port)[0]
    sw.link("set", index=port_index, ifalias=ctx.alias)
    if lan.hairpin or hairpin:  # the LAN's ports, or this port alone
        ctx.step = f"setting hairpin mode on switch port {port}"
        sw.brport("set", index=port_index, mode=1)
    return ctx.up(node, inner)


def wire_tagged(
    ctx: BuildContext, built: Built, plan: Plan, trunk: Trunk, member: TrunkMember,
    *, mtu: int | None, hairpin: bool = False,
) -> int:
    """A tagged sub-interface `member` of the host's 802.1q trunk (see trunks.py).

    The trunk veth is made once per host trunk; each VLAN then gets a VLAN device on
    both ends, the switch's enslaved to that LAN's bridge."""
    sw = ctx.ipr[SWITCH]
    lan = plan.lab.lan(member.lan)
    bridge = built.lan_bridge[lan.name]
    sw_used = built.switch_used
    port = built.trunk_port.get((trunk.host, trunk.ifname))
    if port is None and trunk.native is not None:
        # The host's plain uplink of that name is the trunk: its VLANs ride its veth.
        port = built.switch_port[(trunk.host, trunk.ifname)]
        built.trunk_port[(trunk.host, trunk.ifname)] = port
    if port is None:
        port = unique_ifname(f"{trunk.host}-{trunk.ifname}", sw_used)
        sw_used.add(port)
        wire_mtu = max(plan.lab.lan(m.lan).mtu for m in trunk.members)
        ctx.step = f"creating trunk veth {port} (switch) to {trunk.host}:{trunk.ifname}"
        with ctx.netns_fd(trunk.host) as ns:
            sw.link(
                "add", ifname=port, kind="veth", state="up", mtu=wire_mtu,
                peer={"ifname": trunk.ifname, "net_ns_fd": ns, "mtu": wire_mtu},
            )
        sw.link("set", index=sw.link_lookup(ifname=port)[0], ifalias=ctx.alias)
        ctx.up(trunk.host, trunk.ifname)
        built.trunk_port[(trunk.host, trunk.ifname)] = port
    sub = unique_ifname(f"{port[:10]}.{member.vid}", sw_used)
    sw_used.add(sub)
    ctx.step = f"creating VLAN {member.vid} device {sub} on trunk port {port}"
    sw.link(
        "add", ifname=sub, kind="vlan", link=sw.link_lookup(ifname=port)[0],
        vlan_id=member.vid, master=bridge, mtu=lan.mtu, state="up",
    )
    sub_index = sw.link_lookup(ifname=sub)[0]
    sw.link("set", index=sub_index, ifalias=ctx.alias)
    if lan.hairpin or hairpin:
        sw.brport("set", index=sub_index, mode=1)
    built.switch_port[(trunk.host, member.ifname)] = sub
    host = ctx.ipr[trunk.host]
    ctx.step = f"creating VLAN {member.vid} device {trunk.host}:{member.ifname}"
    host.link(
        "add", ifname=member.ifname, kind="vlan",
        link=host.link_lookup(ifname=trunk.ifname)[0], vlan_id=member.vid,
        mtu=mtu or lan.mtu,
    )
    return ctx.up(trunk.host, member.ifname)


