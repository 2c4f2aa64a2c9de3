"""The netns runtime: a whole lab built from network namespaces with pyroute2.

Layout (every namespace is `nc-<runid>-<node>`):

- `sw`: the switch, one Linux bridge per LAN (an emulated VLAN is its own bridge), STP off,
  forward delay 0; one veth port per router leg, machine and host uplink.
- routers: `router:` has one leg per LAN holding the LAN's gateway; each of `routers:` a
  leg per LAN it names, holding the address given (or the gateway); `ip_forward` as said.
- machines: `eth0` on their LAN, default route via the LAN gateway.
- hosts: one interface per uplink, named as in the plan (`eth0`, `trunk0.100`), plus a
  `br-<net>` bridge holding the gateway for each bridge-driver network their endpoints use.
- endpoints: macvlan/ipvlan children of the host's uplink, moved into the endpoint and named
  eth0, eth1... in attachment order; bridge networks get a veth into the host's bridge.

Nothing is created in the root namespace: veth peers and macvlan children are created
directly inside their target namespace. Isolation (macvlan host isolation, private/vepa,
hairpin) is the kernel's own behaviour; netcheck emulates none of it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pyroute2 import IPRoute

from netcheck.errors import EnvironmentProblem, NetcheckError, RuntimeBuildError, UsageError
from netcheck.model.plan import NodeKind, Plan
from netcheck.model.results import Interface, Node, Topology
from netcheck.runtime import state
from netcheck.runtime.base import BuildResult, ProgressFn, RuntimeOptions
from netcheck.runtime.naming import (
    LOCAL_HOST,
    NETNS_DIR,
    RESERVED_NODES,
    SWITCH,
    check_ifname,
    check_node,
    check_run_id,
    netns_name,
)
from netcheck.runtime.netns import nsfs, vxlan
from netcheck.runtime.netns.context import BuildContext, BuildStep, Built, describe
from netcheck.runtime.netns.layout import EndpointLayout, resolve
from netcheck.runtime.netns.steps import endpoints, lab, nodes, teardown
from netcheck.runtime.netns.steps.ready import wait_ready
from netcheck.sigmask import signals_deferred

if TYPE_CHECKING:
    from netcheck.runtime.features import KernelFeatures

log = logging.getLogger(__name__)

SERVICES_NEED_DOCKER = "swarm services need the docker runtime (--runtime docker)"

# The build, in order. Each step is a function of (context, plan, layout, bookkeeping).
LAB_STEPS: tuple[BuildStep, ...] = (
    lab.switch_bridges, lab.router_legs, lab.machines, lab.host_uplinks,
)
ENDPOINT_STEPS: tuple[BuildStep, ...] = (endpoints.host_bridges, endpoints.endpoints)
NODE_STEPS: tuple[BuildStep, ...] = (
    vxlan.devices, nodes.default_routes, nodes.node_features,
)
# After every link is up (their MACs read back): what must see the lab up once first.
SETTLE_STEPS: tuple[BuildStep, ...] = (nodes.link_states, nodes.firewall)


class NetnsRuntime:
    """Builds a Plan into network namespaces. One instance builds one lab, once."""

    name = "netns"

    def __init__(
        self,
        options: RuntimeOptions,
        *,
        netns_dir: str = NETNS_DIR,
        state_dir: str = state.STATE_DIR,
        ready_timeout: float = 5.0,
    ) -> None:
        try:
            self.run_id = check_run_id(options.run_id)
        except ValueError as exc:
            raise UsageError(f"netns runtime: {exc}") from exc
        self.options = options
        self._netns_dir = netns_dir
        self._state_dir = state_dir
        self._lock = threading.RLock()
        # path -> raw netlink fd still owned here (-1 once an IPRoute owns it)
        self._created: dict[str, int] = {}
        self._ctx = BuildContext(self.run_id, netns_dir, ready_timeout=ready_timeout)
        self._state_written = False
        self._built = False

    # --- public contract ----------------------------------------------------------------

    def build(self, plan: Plan, progress: ProgressFn) -> BuildResult:
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "the netns runtime needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create "
                "network namespaces. Run as root, or use a VM/CI runner that allows it"
            )
        with self._lock:
            if self._built or self._created:
                raise UsageError("netns runtime: this instance already built a lab")
            self._built = True
        try:
            return self._build(plan, progress)
        except BaseException as exc:
            step = self._ctx.step
            try:
                with signals_deferred():  # a second Ctrl-C must not cut this teardown short
                    self.teardown()
            except Exception:
                log.exception("teardown after a failed build also failed")
            if isinstance(exc, NetcheckError) or not isinstance(exc, Exception):
                raise
            raise RuntimeBuildError(
                f"netns runtime: {step}: {describe(exc)}. Everything built was removed"
            ) from exc

    def teardown(self) -> None:
        """Remove every namespace this run made (their links go with them) and the state
        file. Idempotent; each item is forgotten before it is removed, so a second call after
        an interrupted one carries on where the first stopped."""
        with self._lock:
            teardown.close_sockets(self._ctx.ipr)
            errors = teardown.retry_removals(teardown.remove_namespaces(self._created))
            if self._state_written:
                state.remove(self.run_id, self._state_dir)
                self._state_written = False
            if errors:
                raise RuntimeBuildError("netns teardown left: " + "; ".join(errors))

    # --- the build ----------------------------------------------------------------------

    def _build(self, plan: Plan, progress: ProgressFn) -> BuildResult:
        started = time.monotonic()
        # Imported here: features itself imports this package (its scratch namespace).
        from netcheck.runtime.features import probe

        ctx = self._ctx
        ctx.step = "probing kernel features"
        features = probe(self.run_id, self._netns_dir)
        ctx.features = features
        ctx.step = "checking the plan"
        self._check_names(plan)
        layout = resolve(plan, features.available)
        for name, reason in layout.unavailable.items():
            log.info("endpoint %s not built: %s", name, reason)

        specs = self._namespace_specs(plan, layout)
        names = tuple(os.path.basename(s.path) for s in specs)
        state.write(state.for_this_process(self.run_id, self.name, names), self._state_dir)
        self._state_written = True

        progress(f"creating {len(specs)} namespaces")
        self._open_namespaces(plan, layout, specs)

        built = Built()
        if plan.lab.lans:
            progress(f"switch: {len(plan.lab.lans)} LAN(s)")
            self._run(LAB_STEPS, plan, layout, built)
        if layout.endpoints:
            progress(f"endpoints: {len(layout.endpoints)}")
            self._run(ENDPOINT_STEPS, plan, layout, built)
        self._run(NODE_STEPS, plan, layout, built)

        progress("waiting for links to come up")
        macs = wait_ready(ctx, built)
        self._run(SETTLE_STEPS, plan, layout, built)
        topology = self._topology(plan, layout, built, macs, features)
        # Probes enter namespaces by path; the build sockets are no longer needed.
        while ctx.ipr:
            _, ipr = ctx.ipr.popitem()
            ipr.close()
        log.info(
            "netns lab %s: %d namespaces in %.2f s", self.run_id, len(specs),
            time.monotonic() - started,
        )
        unavailable = dict(layout.unavailable)
        # Swarm services (and the ports they publish on hosts) exist only under Docker.
        unavailable.update(dict.fromkeys([s.name for s in plan.services], SERVICES_NEED_DOCKER))
        unavailable.update(dict.fromkeys(plan.routing_mesh(), SERVICES_NEED_DOCKER))
        return BuildResult(topology=topology, unavailable=unavailable)

    def _run(
        self, steps: tuple[BuildStep, ...], plan: Plan, layout: EndpointLayout, built: Built
    ) -> None:
        for step in steps:
            step(self._ctx, plan, layout, built)

    def _open_namespaces(
        self, plan: Plan, layout: EndpointLayout, specs: list[nsfs.NsSpec]
    ) -> None:
        """Create every namespace, hand each netlink fd to an IPRoute, bring lo up."""
        ctx = self._ctx
        ctx.step = "creating namespaces"
        nsfs.create_many(specs, self._created)
        key_of = {ctx.path(k): k for k in self._node_keys(plan, layout)}
        for path in list(self._created):
            fd = self._created[path]
            ctx.ipr[key_of[path]] = IPRoute(fileno=fd)
            self._created[path] = -1
        for key, ipr in ctx.ipr.items():
            ctx.step = f"bringing up lo in {key}"
            ipr.link("set", index=1, state="up")

    def _check_names(self, plan: Plan) -> None:
        nodes = [ep.name for ep in plan.endpoints]
        nodes += [m.name for m in plan.lab.machines] + [h.name for h in plan.lab.hosts]
        nodes += [r.name for r in plan.lab.all_routers]
        seen: set[str] = set()
        for node in nodes:
            try:
                check_node(node)
            except ValueError as exc:
                raise RuntimeBuildError(f"netns runtime: {exc}") from exc
            if node in RESERVED_NODES:
                raise RuntimeBuildError(
                    f"netns runtime: node name {node!r} is reserved for the runtime's own "
                    f"namespace (nc-{self.run_id}-{node}); rename the node"
                )
            if node in seen:
                raise RuntimeBuildError(f"netns runtime: two nodes are named {node!r}")
            seen.add(node)
        for host in plan.lab.hosts:
            names: set[str] = set()
            for uplink in host.uplinks:
                try:
                    check_ifname(uplink.ifname)
                except ValueError as exc:
                    raise RuntimeBuildError(f"netns runtime: host {host.name}: {exc}") from exc
                if uplink.ifname in names or uplink.ifname == "lo":
                    raise RuntimeBuildError(
                        f"netns runtime: host {host.name}: interface {uplink.ifname!r} twice"
                    )
                names.add(uplink.ifname)

    def _node_keys(self, plan: Plan, layout: EndpointLayout) -> list[str]:
        keys: list[str] = []
        if plan.lab.lans:
            keys.append(SWITCH)
        keys += [r.name for r in plan.lab.all_routers]
        keys += [m.name for m in plan.lab.machines]
        keys += [h.name for h in plan.lab.hosts]
        if layout.uses_local_host:
            keys.append(LOCAL_HOST)
        keys += [ep.name for ep in layout.endpoints]
        return keys

    def _namespace_specs(self, plan: Plan, layout: EndpointLayout) -> list[nsfs.NsSpec]:
        v6 = any(lan.subnet.version == 6 for lan in plan.lab.lans)
        specs: list[nsfs.NsSpec] = []
        routers = {r.name: r for r in plan.lab.all_routers}
        for key in self._node_keys(plan, layout):
            sysctls: dict[str, str] = {}
            if key in routers:
                value = "1" if routers[key].forward else "0"
                sysctls["net/ipv4/ip_forward"] = value
                if v6:
                    sysctls["net/ipv6/conf/all/forwarding"] = value
            elif key in layout.host_bridges:
                # Docker turns forwarding on for its bridges (it does not NAT here, though).
                sysctls["net/ipv4/ip_forward"] = "1"
            specs.append(nsfs.NsSpec(path=self._ctx.path(key), sysctls=sysctls))
        return specs

    def _topology(
        self,
        plan: Plan,
        layout: EndpointLayout,
        built: Built,
        macs: Mapping[str, Mapping[str, str]],
        features: KernelFeatures,
    ) -> Topology:
        def interfaces(node: str) -> tuple[Interface, ...]:
            return tuple(
                Interface(
                    ifname=i.ifname, network=i.network, address=i.address, prefix=i.prefix,
                    mac=macs.get(node, {}).get(i.ifname), kind=i.kind, parent=i.parent,
                    mode=i.mode,
                )
                for i in built.ifaces.get(node, [])
            )

        nodes: dict[str, Node] = {}
        by_name = {ep.name: ep for ep in plan.endpoints}
        for spec in layout.endpoints:
            nodes[spec.name] = Node(
                name=spec.name, kind=NodeKind.ENDPOINT, site=self._ctx.site(spec.name),
                interfaces=interfaces(spec.name),
                host=None if spec.host == LOCAL_HOST else spec.host,
                listen=by_name[spec.name].listen,
                # `dns:` is the endpoint's resolv.conf: dns probes without server: ask it.
                resolver=next(iter(by_name[spec.name].dns), None),
            )
        for machine in plan.lab.machines:
            nodes[machine.name] = Node(
                name=machine.name, kind=NodeKind.MACHINE, site=self._ctx.site(machine.name),
                interfaces=interfaces(machine.name), listen=machine.listen,
            )
        for host in plan.lab.hosts:
            nodes[host.name] = Node(
                name=host.name, kind=NodeKind.HOST, site=self._ctx.site(host.name),
                interfaces=interfaces(host.name), listen=host.listen,
            )
        for router in plan.lab.all_routers:
            name = router.name
            nodes[name] = Node(
                name=name, kind=NodeKind.ROUTER, site=self._ctx.site(name),
                interfaces=interfaces(name),
            )
        facts = dict(features.facts())
        facts["runtime"] = self.name
        keys = self._node_keys(plan, layout)
        facts["netns"] = ",".join(netns_name(self.run_id, k) for k in keys)  # display text
        if plan.lab.router is not None:
            facts["router_forward"] = "1" if plan.lab.router.forward else "0"
        facts.update(built.trunk_facts)
        return Topology(
            run_id=self.run_id, runtime=self.name, nodes=nodes, facts=facts,
            lab_netns={k: f"{NETNS_DIR}/{netns_name(self.run_id, k)}" for k in keys},
        )


