"""The netns runtime: a whole lab built from network namespaces with pyroute2.

Layout (every namespace is `nc-<runid>-<node>`):

- `sw`: the switch, one Linux bridge per LAN (an emulated VLAN is its own bridge), STP off,
  forward delay 0; one veth port per router leg, machine and host uplink.
- the router: one leg per LAN holding the LAN's gateway, `ip_forward` as the plan says.
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

import contextlib
import errno
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcheck.errors import (
    EnvironmentProblem,
    Location,
    NetcheckError,
    RuntimeBuildError,
    ScenarioBuildError,
    UsageError,
)
from netcheck.model.plan import Driver, IPAddress, IPNetwork, Lan, NodeKind, Plan, Shim
from netcheck.model.results import Interface, Node, Topology
from netcheck.model.sites import NamespacePath
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
    link_alias,
    netns_name,
    netns_path,
    unique_ifname,
)
from netcheck.runtime.netns import nodefeatures, nsfs
from netcheck.runtime.netns.ipam import default_subnet, gateway_of
from netcheck.runtime.netns.layout import (
    AttachmentSpec,
    EndpointLayout,
    EndpointSpec,
    resolve,
)
from netcheck.runtime.netns.nodefeatures import sysctl_path
from netcheck.runtime.netns.trunks import Trunk, TrunkMember, plan_trunks
from netcheck.sigmask import signals_deferred

if TYPE_CHECKING:
    from netcheck.runtime.features import KernelFeatures

log = logging.getLogger(__name__)

IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}
BRPORT_FORWARDING = 3
IFF_UP = 0x1
READY_OPERSTATES = frozenset({"UP", "UNKNOWN"})
SERVICES_NEED_DOCKER = "swarm services need the docker runtime (--runtime docker)"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, NetlinkError):
        code = exc.code
        text = os.strerror(code) if code else str(exc)
        name = errno.errorcode.get(code, str(code))
        return f"{text} ({name})"
    if isinstance(exc, OSError) and exc.errno:
        where = f" {exc.filename}" if exc.filename else ""
        return f"{os.strerror(exc.errno)}{where}"
    return f"{type(exc).__name__}: {exc}"


# The kernel's answers that mean "this request makes no sense here", i.e. the scenario's
# mistake; EPERM, ENOMEM, EOPNOTSUPP (a missing feature) and others stay environment errors.
_SCENARIO_ERRNOS = frozenset({
    errno.EINVAL, errno.ERANGE, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENODEV,
    errno.ENOENT, errno.EEXIST,
})
_ROUTE_HINTS = {
    errno.ENETUNREACH: "The gateway must be on a subnet of one of the node's interfaces",
    errno.EEXIST: "A route to that destination exists already (a connected subnet, or a "
                  "route given twice)",
}


def _refused(
    where: Location | None, message: str, hint: str | None = None
) -> RuntimeBuildError:
    if where is None:  # a plan not loaded from a file (tests, the API): no line to name
        return RuntimeBuildError(f"netns runtime: {message}")
    return ScenarioBuildError(where, message, hint)


def _default_dst(address: IPAddress) -> str:
    return "0.0.0.0/0" if address.version == 4 else "::/0"


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
        self._ready_timeout = ready_timeout
        self._lock = threading.RLock()
        # path -> raw netlink fd still owned here (-1 once an IPRoute owns it)
        self._created: dict[str, int] = {}
        self._ipr: dict[str, IPRoute] = {}  # node key -> socket in that namespace
        self._state_written = False
        self._built = False
        self._step = "starting"
        self._alias = link_alias(self.run_id)
        self._features: KernelFeatures | None = None

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
            step = self._step
            try:
                with signals_deferred():  # a second Ctrl-C must not cut this teardown short
                    self.teardown()
            except Exception:
                log.exception("teardown after a failed build also failed")
            if isinstance(exc, NetcheckError) or not isinstance(exc, Exception):
                raise
            raise RuntimeBuildError(
                f"netns runtime: {step}: {_describe(exc)}. Everything built was removed"
            ) from exc

    def teardown(self) -> None:
        """Remove every namespace this run made (their links go with them) and the state
        file. Idempotent; each item is forgotten before it is removed, so a second call after
        an interrupted one carries on where the first stopped."""
        with self._lock:
            while self._ipr:
                _, ipr = self._ipr.popitem()
                with contextlib.suppress(Exception):
                    ipr.close()
            failed: list[str] = []
            while self._created:
                path, fd = self._created.popitem()
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                try:
                    nsfs.remove(path)
                except Exception as exc:  # keep going: one bad item must not strand the rest
                    log.warning("teardown: removing %s failed (%s); retrying once", path,
                                _describe(exc))
                    failed.append(path)
            errors: list[str] = []
            for path in failed:  # one bounded retry, for a transient failure (EBUSY)
                try:
                    nsfs.remove(path)
                except Exception as exc:
                    errors.append(f"{path}: {_describe(exc)}")
            if self._state_written:
                state.remove(self.run_id, self._state_dir)
                self._state_written = False
            if errors:
                raise RuntimeBuildError("netns teardown left: " + "; ".join(errors))

    # --- the build ----------------------------------------------------------------------

    def _path(self, node: str) -> str:
        return netns_path(self.run_id, node, self._netns_dir)

    def _site(self, node: str) -> NamespacePath:
        return NamespacePath(path=self._path(node))

    def _build(self, plan: Plan, progress: ProgressFn) -> BuildResult:
        started = time.monotonic()
        # Imported here: features itself imports this package (its scratch namespace).
        from netcheck.runtime.features import probe

        self._step = "probing kernel features"
        features = probe(self.run_id, self._netns_dir)
        self._features = features
        self._step = "checking the plan"
        self._check_names(plan)
        layout = resolve(plan, features.available)
        for name, reason in layout.unavailable.items():
            log.info("endpoint %s not built: %s", name, reason)

        specs = self._namespace_specs(plan, layout)
        names = tuple(os.path.basename(s.path) for s in specs)
        state.write(state.for_this_process(self.run_id, self.name, names), self._state_dir)
        self._state_written = True

        progress(f"creating {len(specs)} namespaces")
        self._step = "creating namespaces"
        nsfs.create_many(specs, self._created)
        key_of = {self._path(k): k for k in self._node_keys(plan, layout)}
        for path in list(self._created):
            fd = self._created[path]
            self._ipr[key_of[path]] = IPRoute(fileno=fd)
            self._created[path] = -1
        for key, ipr in self._ipr.items():
            self._step = f"bringing up lo in {key}"
            ipr.link("set", index=1, state="up")

        built = _Built()
        if plan.lab.lans:
            progress(f"switch: {len(plan.lab.lans)} LAN(s)")
            self._build_lab(plan, built)
        if layout.endpoints:
            progress(f"endpoints: {len(layout.endpoints)}")
            self._build_host_bridges(plan, layout, built)
            self._build_endpoints(plan, layout, built)
        self._step = "installing default routes"
        for key, gateways in built.routes.items():
            for gw in gateways:
                self._step = f"adding default route via {gw} in {key}"
                self._ipr[key].route("add", dst=_default_dst(gw), gateway=str(gw))

        self._node_features(plan, layout, built)

        progress("waiting for links to come up")
        macs = self._wait_ready(built)
        self._link_states(plan, built)
        self._firewall(plan, layout, built)
        topology = self._topology(plan, layout, built, macs, features)
        # Probes enter namespaces by path; the build sockets are no longer needed.
        while self._ipr:
            _, ipr = self._ipr.popitem()
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

    # --- lab node features: sysctls, routes, link state, firewall -------------------------

    def _feature_nodes(self, plan: Plan) -> list[tuple[str, Any]]:
        nodes: list[tuple[str, Any]] = []
        if plan.lab.router is not None:
            nodes.append((plan.lab.router.name, plan.lab.router))
        nodes += [(m.name, m) for m in plan.lab.machines]
        nodes += [(h.name, h) for h in plan.lab.hosts]
        return nodes

    def _node_features(self, plan: Plan, layout: EndpointLayout, built: _Built) -> None:
        """Routes and sysctls, once every link exists (conf/<ifname> needs the link).

        What the kernel refuses here was asked for by one scenario line (validate cannot know
        a host's build-time links): the error names that line and exits 2, not 3."""
        for name, node in self._feature_nodes(plan):
            ipr = self._ipr[name]
            for route in node.routes:
                self._step = f"adding route {route} in {name}"
                where = route.location or node.location
                kwargs: dict[str, Any] = {"dst": str(route.dst)}
                if route.via is not None:
                    kwargs["gateway"] = str(route.via)
                if route.dev is not None:
                    found = ipr.link_lookup(ifname=route.dev)
                    if not found:
                        names = sorted(str(link.get_attr("IFLA_IFNAME")) for link in
                                       ipr.get_links())
                        raise _refused(where, f"route {route}: {name} has no interface "
                                              f"{route.dev!r}", f"Its interfaces: "
                                              f"{', '.join(names)}")
                    kwargs["oif"] = found[0]
                try:
                    ipr.route("add", **kwargs)
                except NetlinkError as exc:
                    if exc.code not in _SCENARIO_ERRNOS:
                        raise
                    raise _refused(where, f"route {route} in {name}: the kernel refused it: "
                                          f"{_describe(exc)}", _ROUTE_HINTS.get(exc.code)) \
                        from exc
            for key, value in node.sysctls.items():
                self._step = f"writing sysctl {key}={value} in {name}"
                try:
                    nsfs.write_sysctls(self._path(name), {sysctl_path(key): value})
                except OSError as exc:
                    if exc.errno not in _SCENARIO_ERRNOS:
                        raise
                    hint = ("The key does not exist in the node: an interface it names is "
                            "missing, or the kernel lacks it" if exc.errno == errno.ENOENT else
                            "The kernel does not take that value for this key")
                    raise _refused(node.sysctl_locations.get(key) or node.location,
                                   f"sysctl {key}={value} in {name}: the kernel refused it: "
                                   f"{os.strerror(exc.errno or 0)}", hint) from exc

    def _link_states(self, plan: Plan, built: _Built) -> None:
        """Leave links down as the plan says, after the lab has come up once."""
        wanted: list[tuple[str, str, str]] = [
            (m.name, "eth0", m.state) for m in plan.lab.machines if m.state != "up"
        ]
        for host in plan.lab.hosts:
            wanted += [(host.name, u.ifname, u.state) for u in host.uplinks if u.state != "up"]
        for node, ifname, link_state in wanted:
            if link_state == "down":
                self._step = f"setting {node}:{ifname} down"
                ipr = self._ipr[node]
                ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="down")
            else:  # no-carrier: unplug the cable at the switch end
                port = built.switch_port[(node, ifname)]
                self._step = f"setting switch port {port} down (no carrier on {node}:{ifname})"
                sw = self._ipr[SWITCH]
                sw.link("set", index=sw.link_lookup(ifname=port)[0], state="down")
        if wanted:
            self._wait_operstates()

    def _wait_operstates(self) -> None:
        """Wait (bounded) until every link's operstate agrees with its carrier.

        The kernel hands carrier loss on to stacked links (macvlan children of an unplugged
        parent) through linkwatch, up to ~1 s later. Probing before that raced it: measured
        on parent-down.yaml, d1->d2 answered in 11 of 15 runs and was silent in 4; once the
        children are DOWN it is silent every time.
        """
        self._step = "waiting for link states to settle"
        started = time.monotonic()
        deadline = started + self._ready_timeout
        delay = 0.005
        while True:
            pending = [
                f"{key}:{link.get_attr('IFLA_IFNAME')}"
                for key, ipr in sorted(self._ipr.items())
                for link in ipr.get_links()
                if link["flags"] & IFF_UP
                and link.get_attr("IFLA_CARRIER") == 0
                and link.get_attr("IFLA_OPERSTATE") == "UP"
            ]
            if not pending:
                log.info("link states settled in %.2f s", time.monotonic() - started)
                return
            if time.monotonic() >= deadline:
                raise RuntimeBuildError(
                    f"netns runtime: links lost carrier but still say UP after "
                    f"{self._ready_timeout:.0f} s: {', '.join(pending)}"
                )
            time.sleep(delay)  # a bounded poll, not a fixed wait
            delay = min(delay * 2, 0.05)

    def _firewall(self, plan: Plan, layout: EndpointLayout, built: _Built) -> None:
        addresses: dict[str, list[IPAddress]] = {}
        for node, ifaces in built.ifaces.items():
            addresses[node] = [i.address for i in ifaces if i.address is not None]
        for name, node in self._feature_nodes(plan):
            for rule in node.firewall:
                self._step = f"adding firewall rule {rule} in {name}"
                for argv in nodefeatures.commands(rule, addresses):
                    nodefeatures.run_in(self._path(name), argv)

    def _check_names(self, plan: Plan) -> None:
        nodes = [ep.name for ep in plan.endpoints]
        nodes += [m.name for m in plan.lab.machines] + [h.name for h in plan.lab.hosts]
        if plan.lab.router is not None:
            nodes.append(plan.lab.router.name)
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
        if plan.lab.router is not None:
            keys.append(plan.lab.router.name)
        keys += [m.name for m in plan.lab.machines]
        keys += [h.name for h in plan.lab.hosts]
        if layout.uses_local_host:
            keys.append(LOCAL_HOST)
        keys += [ep.name for ep in layout.endpoints]
        return keys

    def _namespace_specs(self, plan: Plan, layout: EndpointLayout) -> list[nsfs.NsSpec]:
        v6 = any(lan.subnet.version == 6 for lan in plan.lab.lans)
        specs: list[nsfs.NsSpec] = []
        for key in self._node_keys(plan, layout):
            sysctls: dict[str, str] = {}
            if plan.lab.router is not None and key == plan.lab.router.name:
                value = "1" if plan.lab.router.forward else "0"
                sysctls["net/ipv4/ip_forward"] = value
                if v6:
                    sysctls["net/ipv6/conf/all/forwarding"] = value
            elif key in layout.host_bridges:
                # Docker turns forwarding on for its bridges (it does not NAT here, though).
                sysctls["net/ipv4/ip_forward"] = "1"
            specs.append(nsfs.NsSpec(path=self._path(key), sysctls=sysctls))
        return specs

    # --- lab underlay -------------------------------------------------------------------

    def _build_lab(self, plan: Plan, built: _Built) -> None:
        sw = self._ipr[SWITCH]
        used: set[str] = set()
        bridge_index: dict[str, int] = {}
        for lan in plan.lab.lans:
            name = unique_ifname(lan.name, used)
            used.add(name)
            self._step = f"creating bridge {name} for LAN {lan.name} in the switch"
            sw.link(
                "add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0,
                mtu=lan.mtu, state="up",
            )
            index = sw.link_lookup(ifname=name)[0]
            sw.link("set", index=index, ifalias=self._alias)
            bridge_index[lan.name] = index
            built.bridge_namespaces.add(SWITCH)

        router = plan.lab.router
        if router is not None:
            r_used: set[str] = {"lo"}
            for lan in plan.lab.lans:
                if lan.gateway is None:
                    continue
                leg = unique_ifname(lan.name, r_used)
                r_used.add(leg)
                self._wire(lan, bridge_index[lan.name], used, f"{router.name}-{lan.name}",
                           router.name, leg)
                self._address(router.name, leg, lan.gateway, lan.subnet)
                built.ifaces.setdefault(router.name, []).append(
                    _If(leg, lan.name, lan.gateway, lan.subnet, "veth")
                )

        for machine in plan.lab.machines:
            lan = plan.lab.lan(machine.lan)
            self._wire(lan, bridge_index[lan.name], used, machine.name, machine.name, "eth0",
                       mtu=machine.mtu, built=built)
            self._address(machine.name, "eth0", machine.ip, lan.subnet)
            built.ifaces.setdefault(machine.name, []).append(
                _If("eth0", lan.name, machine.ip, lan.subnet, "veth")
            )
            if lan.gateway is not None and lan.gateway != machine.ip:
                built.routes.setdefault(machine.name, []).append(lan.gateway)

        available = self._features.available if self._features is not None else ()
        trunks = plan_trunks(plan.lab, available)
        built.trunk_facts = trunks.facts()
        for host in plan.lab.hosts:
            route_set = False
            for uplink in host.uplinks:
                lan = plan.lab.lan(uplink.lan)
                tagged = trunks.member(host.name, uplink.ifname)
                if tagged is not None:
                    index = self._wire_tagged(
                        plan, bridge_index[lan.name], used, *tagged, mtu=uplink.mtu,
                        built=built,
                    )
                else:
                    index = self._wire(
                        lan, bridge_index[lan.name], used, f"{host.name}-{uplink.ifname}",
                        host.name, uplink.ifname, mtu=uplink.mtu, built=built,
                    )
                built.uplink_index[(host.name, uplink.ifname)] = index
                if uplink.ip is not None:
                    self._address(host.name, uplink.ifname, uplink.ip, lan.subnet)
                    if not route_set and lan.gateway is not None and lan.gateway != uplink.ip:
                        built.routes.setdefault(host.name, []).append(lan.gateway)
                        route_set = True
                built.ifaces.setdefault(host.name, []).append(
                    _If(uplink.ifname, lan.name, uplink.ip, lan.subnet, "veth")
                )
            lan_of = {u.ifname: u.lan for u in host.uplinks}
            for shim in host.shims:
                self._build_shim(plan, host.name, shim, lan_of[shim.parent], built)

    def _build_shim(self, plan: Plan, host: str, shim: Shim, lan: str, built: _Built) -> None:
        """The host's own macvlan child on `shim.parent`, with a host route per range."""
        ipr = self._ipr[host]
        built.host_used.setdefault(host, self._host_used(plan, host)).add(shim.name)
        self._step = f"creating macvlan shim {host}:{shim.name} on {shim.parent}"
        ipr.link(
            "add", ifname=shim.name, kind="macvlan",
            link=built.uplink_index[(host, shim.parent)], macvlan_mode="bridge", state="up",
        )
        index = ipr.link_lookup(ifname=shim.name)[0]
        ipr.link("set", index=index, ifalias=self._alias)
        prefix = ipaddress.ip_network(f"{shim.ip}/{shim.ip.max_prefixlen}")
        self._address(host, shim.name, shim.ip, prefix)
        for route in shim.routes:
            self._step = f"adding route {route} dev {shim.name} in {host}"
            ipr.route("add", dst=str(route), oif=index)
        built.ifaces.setdefault(host, []).append(
            _If(shim.name, lan, shim.ip, prefix, "macvlan", parent=f"{host}:{shim.parent}",
                mode="bridge")
        )

    def _wire(
        self, lan: Lan, bridge: int, sw_used: set[str], port_wanted: str, node: str, inner: str,
        *, mtu: int | None = None, built: _Built | None = None,
    ) -> int:
        """A veth from the LAN's bridge in the switch to `inner` in `node`; both ends up.

        `mtu` is the node end's MTU when it differs from the LAN's: a frame bigger than the
        switch port's MTU is then dropped silently, like a too-small underlay."""
        sw = self._ipr[SWITCH]
        port = unique_ifname(port_wanted, sw_used)
        sw_used.add(port)
        if built is not None:
            built.switch_port[(node, inner)] = port
        self._step = f"creating veth {port} (switch, LAN {lan.name}) to {node}:{inner}"
        sw.link(
            "add", ifname=port, kind="veth", master=bridge, state="up", mtu=lan.mtu,
            peer={"ifname": inner, "net_ns_fd": self._path(node), "mtu": mtu or lan.mtu},
        )
        port_index = sw.link_lookup(ifname=port)[0]
        sw.link("set", index=port_index, ifalias=self._alias)
        if lan.hairpin:
            self._step = f"setting hairpin mode on switch port {port}"
            sw.brport("set", index=port_index, mode=1)
        return self._up(node, inner)

    def _wire_tagged(
        self, plan: Plan, bridge: int, sw_used: set[str], trunk: Trunk, member: TrunkMember,
        *, mtu: int | None, built: _Built,
    ) -> int:
        """A tagged sub-interface `member` of the host's 802.1q trunk (see trunks.py).

        The trunk veth is made once per host trunk; each VLAN then gets a VLAN device on
        both ends, the switch's enslaved to that LAN's bridge."""
        sw = self._ipr[SWITCH]
        lan = plan.lab.lan(member.lan)
        port = built.trunk_port.get((trunk.host, trunk.ifname))
        if port is None and trunk.native is not None:
            # The host's plain uplink of that name is the trunk: its VLANs ride its veth.
            port = built.switch_port[(trunk.host, trunk.ifname)]
            built.trunk_port[(trunk.host, trunk.ifname)] = port
        if port is None:
            port = unique_ifname(f"{trunk.host}-{trunk.ifname}", sw_used)
            sw_used.add(port)
            wire_mtu = max(plan.lab.lan(m.lan).mtu for m in trunk.members)
            self._step = f"creating trunk veth {port} (switch) to {trunk.host}:{trunk.ifname}"
            sw.link(
                "add", ifname=port, kind="veth", state="up", mtu=wire_mtu,
                peer={"ifname": trunk.ifname, "net_ns_fd": self._path(trunk.host),
                      "mtu": wire_mtu},
            )
            sw.link("set", index=sw.link_lookup(ifname=port)[0], ifalias=self._alias)
            self._up(trunk.host, trunk.ifname)
            built.trunk_port[(trunk.host, trunk.ifname)] = port
        sub = unique_ifname(f"{port[:10]}.{member.vid}", sw_used)
        sw_used.add(sub)
        self._step = f"creating VLAN {member.vid} device {sub} on trunk port {port}"
        sw.link(
            "add", ifname=sub, kind="vlan", link=sw.link_lookup(ifname=port)[0],
            vlan_id=member.vid, master=bridge, mtu=lan.mtu, state="up",
        )
        sub_index = sw.link_lookup(ifname=sub)[0]
        sw.link("set", index=sub_index, ifalias=self._alias)
        if lan.hairpin:
            sw.brport("set", index=sub_index, mode=1)
        built.switch_port[(trunk.host, member.ifname)] = sub
        host = self._ipr[trunk.host]
        self._step = f"creating VLAN {member.vid} device {trunk.host}:{member.ifname}"
        host.link(
            "add", ifname=member.ifname, kind="vlan",
            link=host.link_lookup(ifname=trunk.ifname)[0], vlan_id=member.vid,
            mtu=mtu or lan.mtu,
        )
        return self._up(trunk.host, member.ifname)

    def _up(self, node: str, ifname: str) -> int:
        ipr = self._ipr[node]
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise RuntimeBuildError(f"netns runtime: {ifname} did not appear in {node}")
        index = int(found[0])
        self._step = f"bringing up {node}:{ifname}"
        ipr.link("set", index=index, state="up", ifalias=self._alias)
        return index

    def _address(self, node: str, ifname: str, address: IPAddress, subnet: IPNetwork) -> None:
        ipr = self._ipr[node]
        self._step = f"adding {address}/{subnet.prefixlen} to {node}:{ifname}"
        index = ipr.link_lookup(ifname=ifname)[0]
        extra: dict[str, Any] = {}
        if address.version == 6:
            extra["flags"] = 0x02  # IFA_F_NODAD: a lab address needs no 1-2 s DAD wait
        ipr.addr("add", index=index, address=str(address), prefixlen=subnet.prefixlen, **extra)

    # --- endpoints ----------------------------------------------------------------------

    def _host_used(self, plan: Plan, host: str) -> set[str]:
        used = {"lo"}
        if host != LOCAL_HOST:
            used.update(u.ifname for u in plan.lab.host(host).uplinks)
        return used

    def _build_host_bridges(self, plan: Plan, layout: EndpointLayout, built: _Built) -> None:
        for host, networks in layout.host_bridges.items():
            ipr = self._ipr[host]
            used = built.host_used.setdefault(host, self._host_used(plan, host))
            for net_name in networks:
                net = plan.network(net_name)
                name = unique_ifname(f"br-{net_name}", used)
                used.add(name)
                self._step = f"creating bridge {name} for network {net_name} in {host}"
                extra: dict[str, Any] = {"mtu": net.mtu} if net.mtu else {}
                ipr.link(
                    "add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0,
                    state="up", **extra,
                )
                index = ipr.link_lookup(ifname=name)[0]
                ipr.link("set", index=index, ifalias=self._alias)
                built.bridge_index[(host, net_name)] = index
                built.bridge_namespaces.add(host)
                first = default_subnet(net)
                for subnet in net.subnets:
                    gw = gateway_of(subnet)
                    if gw is None:
                        continue
                    self._address(host, name, gw, subnet.subnet)
                    if host != LOCAL_HOST and subnet is first:
                        built.ifaces.setdefault(host, []).append(
                            _If(name, net_name, gw, subnet.subnet, "bridge")
                        )

    def _staging(self, index: int) -> str:
        # Kernels before ~6.3 check a new link's name in the namespace that creates it even
        # when it is born in another one (EEXIST for a child `eth0` of parent `eth0`), so a
        # child is born under a name no host uses and renamed where it lives.
        return f"ncstage{index}"

    def _unstage(self, node: str, index: int, ifname: str) -> None:
        ipr = self._ipr[node]
        ipr.link("set", index=ipr.link_lookup(ifname=self._staging(index))[0], ifname=ifname)

    def _build_endpoints(self, plan: Plan, layout: EndpointLayout, built: _Built) -> None:
        for ep in layout.endpoints:
            for index, att in enumerate(ep.attachments):
                try:
                    self._attach(ep, index, att, built)
                except NetlinkError as exc:
                    # An MTU above the parent's: validate checks what the file says of a lab
                    # parent; the kernel is the judge of the rest.
                    if not att.mtu or exc.code != errno.EINVAL or not self._step.startswith(
                        "creating "
                    ):
                        raise
                    raise _refused(
                        plan.network(att.network).location,
                        f"network {att.network}: {self._step}: the kernel refused mtu "
                        f"{att.mtu}: {_describe(exc)}",
                        "A macvlan or ipvlan interface cannot have a larger MTU than its parent",
                    ) from exc
            self._endpoint_routes(ep, built)

    def _attach(
        self, ep: EndpointSpec, index: int, att: AttachmentSpec, built: _Built
    ) -> None:
        host = self._ipr[ep.host]
        path = self._path(ep.name)
        self._step = f"attaching {ep.name}:{att.ifname} to network {att.network}"
        common: dict[str, Any] = {"net_ns_fd": path}
        if att.mtu:
            common["mtu"] = att.mtu
        if att.mac:
            common["address"] = att.mac
        where = f"{ep.host}:{att.parent}"
        if att.driver is Driver.MACVLAN:
            self._step = f"creating macvlan {ep.name}:{att.ifname} on {where} ({att.mode})"
            parent = built.uplink_index[(ep.host, str(att.parent))]
            host.link(
                "add", ifname=self._staging(index), kind="macvlan", link=parent,
                macvlan_mode=att.mode, **common,
            )
            self._unstage(ep.name, index, att.ifname)
        elif att.driver is Driver.IPVLAN:
            self._step = f"creating ipvlan {ep.name}:{att.ifname} on {where} ({att.mode})"
            parent = built.uplink_index[(ep.host, str(att.parent))]
            common.pop("address", None)
            host.link(
                "add", ifname=self._staging(index), kind="ipvlan", link=parent,
                ipvlan_mode=IPVLAN_MODES[str(att.mode)], **common,
            )
            self._unstage(ep.name, index, att.ifname)
        else:
            used = built.host_used.setdefault(ep.host, {"lo"})
            host_end = unique_ifname(f"veth{index}-{ep.name}", used)
            used.add(host_end)
            bridge = built.bridge_index[(ep.host, att.network)]
            self._step = f"creating veth {ep.name}:{att.ifname} to {ep.host}:{host_end}"
            peer: dict[str, Any] = {"ifname": att.ifname, **common}
            host.link(
                "add", ifname=host_end, kind="veth", master=bridge, state="up",
                peer=peer, **({"mtu": att.mtu} if att.mtu else {}),
            )
            host_index = host.link_lookup(ifname=host_end)[0]
            host.link("set", index=host_index, ifalias=self._alias)
        self._up(ep.name, att.ifname)
        for address, subnet in (
            (att.address, att.subnet), *((m.address, m.subnet) for m in att.more)
        ):
            self._address(ep.name, att.ifname, address, subnet.subnet)
            built.ifaces.setdefault(ep.name, []).append(
                _If(
                    att.ifname, att.network, address, subnet.subnet,
                    "veth" if att.driver is Driver.BRIDGE else att.driver.value,
                    parent=f"{ep.host}:{att.parent}" if att.parent else None,
                    mode=att.mode,
                )
            )

    def _endpoint_routes(self, ep: EndpointSpec, built: _Built) -> None:
        families: set[int] = set()
        for att in ep.attachments:
            for gateway in att.gateways:
                if gateway.version not in families:
                    families.add(gateway.version)
                    built.routes.setdefault(ep.name, []).append(gateway)

    # --- readiness and the result -------------------------------------------------------

    def _wait_ready(self, built: _Built) -> dict[str, dict[str, str]]:
        """Poll every namespace until its links are up and bridge ports forward (bounded).

        Returns node -> ifname -> MAC, read from the final dump.
        """
        deadline = time.monotonic() + self._ready_timeout
        pending = set(self._ipr)
        macs: dict[str, dict[str, str]] = {}
        not_ready: dict[str, list[str]] = {}
        delay = 0.002
        self._step = "waiting for links to come up"
        while True:
            for key in sorted(pending):
                ipr = self._ipr[key]
                waiting: list[str] = []
                seen: dict[str, str] = {}
                for link in ipr.get_links():
                    ifname = link.get_attr("IFLA_IFNAME")
                    seen[ifname] = link.get_attr("IFLA_ADDRESS")
                    if ifname == "lo":
                        continue
                    if link.get_attr("IFLA_OPERSTATE") not in READY_OPERSTATES:
                        waiting.append(f"{ifname} {link.get_attr('IFLA_OPERSTATE')}")
                if key in built.bridge_namespaces:
                    for port in ipr.brport("dump"):
                        port_state = port.get_nested("IFLA_PROTINFO", "IFLA_BRPORT_STATE")
                        if port_state is not None and port_state != BRPORT_FORWARDING:
                            name = port.get_attr("IFLA_IFNAME")
                            waiting.append(f"port {name} state {port_state}")
                macs[key] = seen
                if waiting:
                    not_ready[key] = waiting
                else:
                    not_ready.pop(key, None)
                    pending.discard(key)
            if not pending:
                return macs
            if time.monotonic() >= deadline:
                detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(not_ready.items()))
                raise RuntimeBuildError(
                    f"netns runtime: links not ready after {self._ready_timeout:.0f} s: {detail}"
                )
            time.sleep(delay)  # a bounded poll, not a fixed wait
            delay = min(delay * 2, 0.05)

    def _topology(
        self,
        plan: Plan,
        layout: EndpointLayout,
        built: _Built,
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
                name=spec.name, kind=NodeKind.ENDPOINT, site=self._site(spec.name),
                interfaces=interfaces(spec.name),
                host=None if spec.host == LOCAL_HOST else spec.host,
                listen=by_name[spec.name].listen,
            )
        for machine in plan.lab.machines:
            nodes[machine.name] = Node(
                name=machine.name, kind=NodeKind.MACHINE, site=self._site(machine.name),
                interfaces=interfaces(machine.name), listen=machine.listen,
            )
        for host in plan.lab.hosts:
            nodes[host.name] = Node(
                name=host.name, kind=NodeKind.HOST, site=self._site(host.name),
                interfaces=interfaces(host.name), listen=host.listen,
            )
        if plan.lab.router is not None:
            name = plan.lab.router.name
            nodes[name] = Node(
                name=name, kind=NodeKind.ROUTER, site=self._site(name),
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


class _If:
    """An interface as built, before its MAC is read back."""

    __slots__ = ("address", "ifname", "kind", "mode", "network", "parent", "prefix")

    def __init__(
        self,
        ifname: str,
        network: str,
        address: IPAddress | None,
        prefix: IPNetwork | None,
        kind: str,
        *,
        parent: str | None = None,
        mode: str | None = None,
    ) -> None:
        self.ifname = ifname
        self.network = network
        self.address = address
        self.prefix = prefix
        self.kind = kind
        self.parent = parent
        self.mode = mode


class _Built:
    """Bookkeeping of one build (indexes, names taken, routes to add)."""

    def __init__(self) -> None:
        self.ifaces: dict[str, list[_If]] = {}
        self.routes: dict[str, list[IPAddress]] = {}
        self.uplink_index: dict[tuple[str, str], int] = {}
        self.bridge_index: dict[tuple[str, str], int] = {}
        self.host_used: dict[str, set[str]] = {}
        self.bridge_namespaces: set[str] = set()
        self.switch_port: dict[tuple[str, str], str] = {}  # (node, ifname) -> switch port
        self.trunk_port: dict[tuple[str, str], str] = {}  # (host, trunk) -> switch end
        self.trunk_facts: dict[str, str] = {}
