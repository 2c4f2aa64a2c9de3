"""What the lab's nodes get once every link exists: routes, sysctls, link states, firewall."""

from __future__ import annotations

import errno
import os
from typing import Any

from netcheck.model.plan import ExtraAddress, IPAddress, Plan
from netcheck.runtime.naming import SWITCH
from netcheck.runtime.netns import nodefeatures, nsfs
from netcheck.runtime.netns import stack as node_stack
from netcheck.runtime.netns.context import (
    SCENARIO_ERRNOS,
    BuildContext,
    Built,
    BuiltIf,
    refused,
)
from netcheck.runtime.netns.layout import EndpointLayout
from netcheck.runtime.netns.nodefeatures import sysctl_path
from netcheck.runtime.netns.steps.ready import wait_operstates


def default_dst(address: IPAddress) -> str:
    return "0.0.0.0/0" if address.version == 4 else "::/0"


def default_routes(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """The default routes earlier steps collected (machines, hosts, endpoints)."""
    ctx.step = "installing default routes"
    for key, gateways in built.routes.items():
        for gw in gateways:
            ctx.step = f"adding default route via {gw} in {key}"
            ctx.ipr[key].route("add", dst=default_dst(gw), gateway=str(gw))


def feature_nodes(plan: Plan) -> list[tuple[str, Any]]:
    """The lab nodes that carry routes, sysctls and firewall rules: routers, machines, hosts."""
    nodes: list[tuple[str, Any]] = []
    nodes += [(r.name, r) for r in plan.lab.all_routers]
    nodes += [(m.name, m) for m in plan.lab.machines]
    nodes += [(h.name, h) for h in plan.lab.hosts]
    return nodes


def node_features(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Routes and sysctls, once every link exists (conf/<ifname> needs the link).

    What the kernel refuses here was asked for by one scenario line (validate cannot know
    a host's build-time links): the error names that line and exits 2, not 3."""
    for name, node in feature_nodes(plan):
        node_routes(ctx, name, node, built)
        node_sysctls(ctx, name, node)


def node_routes(ctx: BuildContext, name: str, node: Any, built: Built) -> None:
    """The node's stack (runtime/netns/stack.py) around its routes: extra addresses first
    (a route's src must be held), then routes, tables and rules, static neighbours."""
    ipr = ctx.ipr[name]
    try:
        ctx.step = f"adding addresses in {name}"
        node_stack.addresses(ipr, name, node.stack)
        extra_ifaces(built, name, node.stack.addresses)
        for route in node.routes:
            ctx.step = f"adding route {route} in {name}"
            node_stack.add_route(ipr, name, route, where=node.location)
        ctx.step = f"adding routing tables and rules in {name}"
        node_stack.tables_and_rules(ipr, name, node.stack)
        ctx.step = f"adding static neighbours in {name}"
        node_stack.neighbours(ipr, name, node.stack)
    except node_stack.Refused as exc:
        raise refused(exc.where, exc.message, exc.hint) from exc


def extra_ifaces(built: Built, name: str, addresses: tuple[ExtraAddress, ...]) -> None:
    """An extra address is one more Interface record on its device (same name), so
    probes, responders and diagnosis find the node holding it; on lo it is on no LAN."""
    ifaces = built.ifaces.setdefault(name, [])
    for a in addresses:
        first = next((i for i in ifaces if i.ifname == a.dev), None)
        if first is None:
            built.add_if(name, BuiltIf(a.dev, a.dev, a.ip, a.network,
                                       "loopback" if a.dev == "lo" else "veth"))
        else:
            built.add_if(name, BuiltIf(a.dev, first.network, a.ip, a.network, first.kind,
                                       parent=first.parent, mode=first.mode))


def node_sysctls(ctx: BuildContext, name: str, node: Any) -> None:
    for key, value in node.sysctls.items():
        ctx.step = f"writing sysctl {key}={value} in {name}"
        try:
            nsfs.write_sysctls(ctx.path(name), {sysctl_path(key): value})
        except OSError as exc:
            if exc.errno not in SCENARIO_ERRNOS:
                raise
            hint = ("The key does not exist in the node: an interface it names is "
                    "missing, or the kernel lacks it" if exc.errno == errno.ENOENT else
                    "The kernel does not take that value for this key")
            raise refused(node.sysctl_locations.get(key) or node.location,
                          f"sysctl {key}={value} in {name}: the kernel refused it: "
                          f"{os.strerror(exc.errno or 0)}", hint) from exc


def link_states(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Leave links down as the plan says, after the lab has come up once."""
    wanted: list[tuple[str, str, str]] = [
        (m.name, "eth0", m.state) for m in plan.lab.machines if m.state != "up"
    ]
    for host in plan.lab.hosts:
        wanted += [(host.name, u.ifname, u.state) for u in host.uplinks if u.state != "up"]
    for node, ifname, link_state in wanted:
        if link_state == "down":
            ctx.step = f"setting {node}:{ifname} down"
            ipr = ctx.ipr[node]
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="down")
        else:  # no-carrier: unplug the cable at the switch end
            port = built.switch_port[(node, ifname)]
            ctx.step = f"setting switch port {port} down (no carrier on {node}:{ifname})"
            sw = ctx.ipr[SWITCH]
            sw.link("set", index=sw.link_lookup(ifname=port)[0], state="down")
    if wanted:
        wait_operstates(ctx)


def firewall(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Each node's firewall rules, with the lab's addresses filled in."""
    addresses: dict[str, list[IPAddress]] = {}
    for node, ifaces in built.ifaces.items():
        addresses[node] = [i.address for i in ifaces if i.address is not None]
    for name, node in feature_nodes(plan):
        for rule in node.firewall:
            ctx.step = f"adding firewall rule {rule} in {name}"
            for argv in nodefeatures.commands(rule, addresses):
                nodefeatures.run_in(ctx.path(name), argv)
