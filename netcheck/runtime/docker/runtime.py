"""The docker runtime: real containers on real Docker networks.

Lab mode (the plan declares lab hosts): the netns runtime builds the underlay (switch,
router, machines, one namespace per host with its uplinks); each lab host then gets its own
dockerd inside its namespace. Real-host mode (no lab hosts): the configured daemon is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import ipaddress
import logging
import platform
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from netcheck.errors import NetcheckError, RuntimeBuildError, ScenarioErrors
from netcheck.image import DEFAULT_IMAGE, ensure_image
from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Host,
    Network,
    NodeKind,
    Plan,
    Service,
)
from netcheck.model.results import (
    Interface,
    Node,
    ServiceRecord,
    ServiceTask,
    Topology,
)
from netcheck.model.sites import ProbeSite, RemoteContainer
from netcheck.runtime import state
from netcheck.runtime.base import BuildResult, ProgressFn, Runtime, RuntimeOptions, registered
from netcheck.runtime.docker import adopt, build, containeropts, ipam, vxlan
from netcheck.runtime.docker import services as swarm_services
from netcheck.runtime.docker import teardown as steps
from netcheck.runtime.docker.build import Build
from netcheck.runtime.docker.client import daemon_url, make_client
from netcheck.runtime.docker.daemon import RUN_DIR, LabDaemon, start_all
from netcheck.runtime.docker.handles import DaemonHandle, api_message, parallel
from netcheck.runtime.docker.kernel import ipvlan_missing
from netcheck.runtime.docker.multihost import (
    lab_mac,
    server_major,
    unbuildable_networks,
    wants_lab_mac,
)
from netcheck.runtime.docker.probeimage import ensure_probe_image
from netcheck.runtime.docker.remote import is_local_url
from netcheck.runtime.docker.uplink import default_route_links, uplink_parents
from netcheck.runtime.naming import NODE_LABEL, RUN_LABEL, object_name
from netcheck.sigmask import signals_deferred

log = logging.getLogger(__name__)

RESOLVER = ipaddress.ip_address("127.0.0.11")
SLEEP_CMD = ["sleep", "2147483647"]
DEFAULT_KEY = ""  # the daemon of real-host mode (options.docker_host / DOCKER_HOST)



def docker_name(run_id: str, name: str) -> str:
    """Docker-side name of a plan network or container; plan names become DNS aliases."""
    return object_name(run_id, name)


class DockerRuntime:
    name = "docker"

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.run_id = options.run_id
        self._underlay: Runtime | None = None
        self._daemons: dict[str, DaemonHandle] = {}
        self._containers: list[tuple[str, str]] = []  # (daemon key, container id)
        self._services: list[tuple[str, str]] = []  # (manager's daemon key, service id)
        self._lock = threading.Lock()
        self._state_written = False
        self._overlay_members: list[str] = []
        self._probe_tags: dict[str, str] = {}  # remote daemon key -> probe image tag
        # (daemon key, scenario name) -> Docker name of an external network: attached to,
        # never created or removed (not in DaemonHandle.networks, which teardown removes).
        self._external_names: dict[tuple[str, str], str] = {}
        self.timings: dict[str, float] = {}

    # --- build ---------------------------------------------------------------------------

    def build(self, plan: Plan, progress: ProgressFn) -> BuildResult:
        import docker.errors

        try:
            return self._build(plan, progress)
        except docker.errors.DockerException as exc:
            with signals_deferred():  # a second Ctrl-C must not cut this teardown short
                self.teardown()
            raise RuntimeBuildError(f"docker: {api_message(exc)}") from exc
        except BaseException:
            with signals_deferred():
                self.teardown()
            raise

    def _timed(self, phase: str, start: float) -> None:
        self.timings[phase] = time.monotonic() - start

    def _build(self, plan: Plan, progress: ProgressFn) -> BuildResult:
        b = Build(plan=plan, progress=progress)
        for phase, step in self.BUILD_STEPS:
            t = time.monotonic()
            step(self, b)
            if phase is not None:
                self._timed(phase, t)
        b.facts.update(build.timing_facts(self.timings))
        assert b.docker is not None  # the environment step ran
        seen = {name: fn.network for (_key, name), fn in sorted(b.found.items(), reverse=True)}
        topo = Topology(run_id=self.run_id, runtime=self.name, nodes=b.nodes, facts=b.facts,
                        networks=seen, services=b.running, docker=b.docker,
                        lab_netns=b.lab_netns)
        return BuildResult(topology=topo, unavailable=b.unavailable)

    # --- the build steps, in BUILD_STEPS order --------------------------------------------

    def _plan_step(self, b: Build) -> None:
        """What this run cannot build, and which hosts get a lab dockerd."""
        b.unavailable, b.skipped = build.unavailable(
            b.plan, lambda: ipvlan_missing(self.run_id))
        b.unavailable.update(
            swarm_services.unavailable(b.plan, unbuildable_networks(b.plan.networks)))
        b.lab_hosts = build.lab_hosts(b.plan)
        b.facts["kernel"] = platform.release()

    def _underlay_step(self, b: Build) -> None:
        """The lab's namespaces (netns runtime), or just the run's state file."""
        if not build.needs_underlay(b.plan):
            self._mark_owner()
            return
        b.progress("building the lab underlay")
        underlay = self._build_underlay(b.plan, b.progress)
        b.nodes.update(underlay.nodes)
        b.facts.update(underlay.facts)
        b.lab_netns = underlay.lab_netns

    def _daemons_step(self, b: Build) -> None:
        if b.lab_hosts:
            self._start_lab_daemons(b.plan, b.lab_hosts, b.nodes, b.progress)
        self._connect_real_daemons(b.plan, lab=bool(b.lab_hosts))

    def _environment_step(self, b: Build) -> None:
        first = next(iter(self._daemons.values()))
        b.docker = build.environment(first.client.version(), lab=bool(b.lab_hosts))
        ready = {d.key: d.lab.ready_s for d in self._daemons.values()
                 if d.lab is not None and d.lab.ready_s is not None}
        b.facts.update(build.environment_facts(b.docker, ready))

    def _read_step(self, b: Build) -> None:
        """Where each endpoint runs, and what already exists, read before anything is
        created: an absent network or a stopped container fails the run with nothing built."""
        wanted = [ep for ep in b.plan.endpoints if ep.name not in b.unavailable]
        keys = list(self._daemons)
        b.placement = {ep.name: build.daemon_key(ep, keys) for ep in wanted}
        b.existing = [ep for ep in wanted if ep.container is not None]
        b.endpoints = [ep for ep in wanted if ep.container is None]
        clients = {k: d.client for k, d in self._daemons.items()}
        b.found = adopt.read_external(b.plan, b.endpoints, b.existing, b.placement, clients,
                                      self._where)
        for (key, name), fn in b.found.items():
            self._external_names[(key, name)] = fn.docker_name
        b.plan = b.plan.with_networks({n: f.network for (_k, n), f in b.found.items()})
        errors = adopt.check_fixed_ips(b.endpoints, {n: f for (_k, n), f in b.found.items()})
        if errors:
            raise ScenarioErrors(errors)
        b.adopted = adopt.read_existing(b.existing, b.placement, b.found, clients, self._where)

    def _place_step(self, b: Build) -> None:
        """Which daemons each network goes on, and who joins the swarm."""
        b.networks = [n for n in b.plan.networks if n.name not in b.skipped and not n.external]
        order = list(self._daemons)
        b.homes, members = build.network_homes(b.networks, b.endpoints, b.placement, order)
        b.services = [s for s in b.plan.services if s.name not in b.unavailable]
        # A service pinned to a host needs that host in the swarm.
        pinned = {s.host for s in b.services if s.host is not None and s.host in self._daemons}
        self._overlay_members = sorted({*members, *pinned}, key=order.index)

    def _check_step(self, b: Build) -> None:
        if not b.lab_hosts:
            self._refuse_uplink_parents(b.networks, b.homes)
        self._check_conflicts(b.plan, b.networks, b.homes)

    def _swarm_step(self, b: Build) -> None:
        if any(n.driver is Driver.OVERLAY for n in b.networks):
            b.progress("joining swarm")
            self._ensure_swarm(b.networks, b.homes)

    def _images_step(self, b: Build) -> None:
        self._ensure_images(b.plan, b.endpoints, b.placement, b.existing)

    def _networks_step(self, b: Build) -> None:
        b.progress(f"creating {len(b.networks)} network(s)")
        for net in b.networks:
            for key in b.homes[net.name]:
                self._create_network(self._daemons[key], net)

    def _vxlan_step(self, b: Build) -> None:
        """Raw VXLAN devices join their network's bridge, now that the lab dockerds made it."""
        vxlan.enslave_all(b.plan, self._daemons, b.nodes)

    def _containers_step(self, b: Build) -> None:
        b.progress(f"starting {len(b.endpoints)} container(s)")
        b.started = containeropts.run_in_order(
            lambda ep: (ep, self._start_container(b.plan, ep,
                                                  self._daemons[b.placement[ep.name]])),
            b.endpoints,
        )

    def _nodes_step(self, b: Build) -> None:
        """The topology's nodes for the containers made and adopted, as Docker has them."""
        for ep, info in b.started:
            b.nodes[ep.name] = self._endpoint_node(b.plan, ep, b.placement[ep.name], info,
                                                   b.facts)
        for ep, (info, networks_of) in b.adopted.items():
            b.nodes[ep.name] = self._existing_node(ep, b.placement[ep.name], info, networks_of)
            b.facts[f"endpoint.{ep.name}.container"] = build.adopted_fact(info)
        b.facts.update(build.external_facts(b.found))

    def _services_step(self, b: Build) -> None:
        if b.services:
            b.progress(f"starting {len(b.services)} swarm service(s)")
            b.nodes.update(self._start_services(b.plan, b.services, b.homes, b.facts,
                                                b.running))

    # The build, in order: (phase timed in `timings` and the facts, or None; step).
    BUILD_STEPS: ClassVar[tuple[tuple[str | None, Callable[[DockerRuntime, Build], None]],
                                ...]] = (
        (None, _plan_step),
        ("underlay", _underlay_step),
        ("daemons", _daemons_step),
        (None, _environment_step),
        (None, _read_step),
        (None, _place_step),
        (None, _check_step),
        ("swarm", _swarm_step),
        ("images", _images_step),
        ("networks", _networks_step),
        (None, _vxlan_step),
        ("containers", _containers_step),
        (None, _nodes_step),
        ("services", _services_step),
    )

    # --- what already exists (read only: runtime/docker/adopt.py) -------------------------

    def _where(self, key: str) -> str:
        return f"host '{key}' ({self._daemons[key].url})" if key else \
            f"the Docker daemon at {self._daemons[key].url}"

    def _existing_node(
        self,
        ep: Endpoint,
        key: str,
        info: Mapping[str, Any],
        networks_of: Mapping[str, tuple[str, Network | None]],
    ) -> Node:
        url = self._daemons[key].url
        site: ProbeSite
        macs: dict[str, str] = {}
        if is_local_url(url):
            # Its own pid's namespace: no sidecar, nothing runs in the container.
            site = adopt.local_site(info)
            macs = _macs_in(site.pid)
        else:
            site = RemoteContainer(run_id=self.run_id, container=str(info["Id"]), url=url,
                                   image_tag=self._probe_tags.get(key))
        return adopt.adopted_node(ep, key, info, site, macs, networks_of)

    def _mark_owner(self) -> None:
        """Register the run as alive, so `netcheck clean` leaves its objects alone.

        In lab mode the netns underlay registers the same run id (and removes it on teardown).
        """
        state.write(state.for_this_process(self.run_id, self.name, ()))
        self._state_written = True

    def _build_underlay(self, plan: Plan, progress: ProgressFn) -> Topology:
        # Through the registry: the netns runtime registers itself when imported.
        importlib.import_module("netcheck.runtime.netns")
        # A host with a Docker URL is a real machine elsewhere, not a lab namespace.
        # Its VXLAN devices join Docker's bridges later (_vxlan_step): none exists yet.
        lab = dataclasses.replace(
            plan.lab, hosts=tuple(vxlan.underlay_host(h) for h in build.lab_hosts(plan))
        )
        underlay_plan = dataclasses.replace(
            plan, lab=lab, networks=(), endpoints=(), expectations=(), services=()
        )
        self._underlay = registered()["netns"](self.options)
        return self._underlay.build(underlay_plan, progress).topology

    def _start_lab_daemons(
        self, plan: Plan, lab_hosts: list[Host], nodes: Mapping[str, Node], progress: ProgressFn
    ) -> None:
        """One dockerd in each lab host's namespace, started together."""
        pool = ipam.lab_pool(plan)
        bip = ipam.lab_bip(plan)
        wants_bridge = build.hosts_with_default_bridge(plan)
        bridged = build.iptables_hosts(plan)
        labs: list[LabDaemon] = []
        for host in lab_hosts:
            node = nodes.get(host.name)
            if node is None:
                raise RuntimeBuildError(f"the lab underlay has no namespace for {host.name!r}")
            labs.append(
                LabDaemon(
                    run_id=self.run_id,
                    host=host.name,
                    netns=node.netns,
                    default_pool=pool,
                    bip=bip if host.name in wants_bridge else None,
                    iptables=host.name in bridged,
                )
            )
        progress(f"starting {len(labs)} lab dockerd(s)")
        for lab in labs:
            self._daemons[lab.host] = DaemonHandle(key=lab.host, url=lab.url, client=None,
                                                   lab=lab)
        start_all(labs)
        for lab in labs:
            d = self._daemons[lab.host]
            d.client = make_client(lab.url)
            addrs = [u.ip for u in plan.lab.host(lab.host).uplinks if u.ip is not None]
            d.advertise = str(addrs[0]) if addrs else None

    def _connect_real_daemons(self, plan: Plan, *, lab: bool) -> None:
        """The hosts' real daemons (a Docker URL), or without any host the configured one;
        each must answer."""
        for host in plan.lab.hosts:
            if host.docker_url is not None:
                self._daemons[host.name] = DaemonHandle(
                    key=host.name, url=host.docker_url, client=make_client(host.docker_url)
                )
        if not lab and not any(h.docker_url for h in plan.lab.hosts):
            url = daemon_url(self.options.docker_host)
            self._daemons[DEFAULT_KEY] = DaemonHandle(
                key=DEFAULT_KEY, url=url, client=make_client(self.options.docker_host)
            )
        for d in self._daemons.values():
            if d.lab is None:
                try:
                    d.client.ping()
                except Exception as exc:
                    raise RuntimeBuildError(
                        f"no Docker daemon answers at {d.url}: {api_message(exc)}. "
                        "Start one (scripts/start-dockerd.sh) or pass --docker-host"
                    ) from exc

    def _refuse_uplink_parents(
        self, networks: list[Network], homes: Mapping[str, list[str]]
    ) -> None:
        if self.options.allow_uplink:
            return
        local = [
            n
            for n in networks
            if n.parent and any(self._daemons[k].url.startswith("unix://") for k in homes[n.name])
        ]
        if not local:
            return
        uplinks = default_route_links()
        for net in local:
            assert net.parent is not None
            if uplink_parents([net.parent], uplinks):
                raise RuntimeBuildError(
                    f"network {net.name!r}: parent {net.parent!r} carries this machine's default "
                    "route; containers on it would sit on the real network. Use a lab uplink, or "
                    "pass --allow-uplink on a host where that is what you want"
                )

    def _check_conflicts(
        self, plan: Plan, networks: list[Network], homes: Mapping[str, list[str]]
    ) -> None:
        problems: list[str] = []
        for key, d in self._daemons.items():
            wanted = [n for n in networks if key in homes[n.name]]
            if not wanted:
                continue
            existing = ipam.existing_from_api(d.client.api.networks())
            where = f"host {key!r}" if key else f"the daemon at {d.url}"
            problems += ipam.find_conflicts(wanted, existing, where)
        if problems:
            raise RuntimeBuildError(
                "subnets overlap networks already on the daemon; nothing was created:\n  "
                + "\n  ".join(problems)
                + "\nRemove the other network (or `netcheck clean` a dead run's), or change "
                "the scenario's subnets"
            )

    # --- swarm -----------------------------------------------------------------------------

    def _ensure_swarm(self, networks: list[Network], homes: Mapping[str, list[str]]) -> None:
        managers = {homes[n.name][0] for n in networks if n.driver is Driver.OVERLAY}
        members = list(dict.fromkeys([*sorted(managers), *self._overlay_members]))
        if len(managers) > 1:
            raise RuntimeBuildError("all overlay networks of a run must share one swarm manager")
        manager = self._daemons[members[0]]
        if not self._in_swarm(manager):
            kwargs: dict[str, Any] = {"listen_addr": "0.0.0.0:2377"}
            if manager.advertise:
                kwargs["advertise_addr"] = manager.advertise
            manager.client.swarm.init(**kwargs)
            manager.swarm_ours = True
        token = manager.client.swarm.attrs["JoinTokens"]["Worker"]
        addr = manager.advertise or manager.client.info()["Swarm"]["NodeAddr"]
        for key in members[1:]:
            worker = self._daemons[key]
            if self._in_swarm(worker):
                continue
            worker.client.swarm.join(
                remote_addrs=[f"{addr}:2377"],
                join_token=token,
                advertise_addr=worker.advertise,
                listen_addr="0.0.0.0:2377",
            )
            worker.swarm_ours = True

    @staticmethod
    def _in_swarm(d: DaemonHandle) -> bool:
        state = d.client.info().get("Swarm", {}).get("LocalNodeState", "inactive")
        return bool(state == "active")

    # --- images, networks, containers ---------------------------------------------------

    def _image_for(self, plan: Plan, ep: Endpoint) -> str:
        return ep.image or plan.image or self.options.image or DEFAULT_IMAGE

    def _put_image(self, item: tuple[str, str]) -> None:
        """Make image `ref` present on daemon `key` (a lab daemon gets a copy of it)."""
        key, ref = item
        d = self._daemons[key]
        if d.lab is not None and ref != DEFAULT_IMAGE:
            self._copy_image_to_lab(d, ref)
        ensure_image(d.client, ref)

    def _ensure_images(
        self,
        plan: Plan,
        endpoints: list[Endpoint],
        placement: Mapping[str, str],
        existing: list[Endpoint] | None = None,
    ) -> None:
        wanted = {(placement[ep.name], self._image_for(plan, ep)) for ep in endpoints}
        parallel(self._put_image, sorted(wanted))
        # Probes on a remote host run in sidecars: import their image now, not mid-probe.
        keys = {k for k, _ in wanted} | {placement[ep.name] for ep in existing or ()}
        remote_keys = sorted(k for k in keys if not is_local_url(self._daemons[k].url))
        for key, ref in zip(
            remote_keys,
            parallel(lambda k: ensure_probe_image(self._daemons[k].client), remote_keys),
            strict=True,
        ):
            self._probe_tags[key] = ref.rpartition(":")[2]

    def _copy_image_to_lab(self, d: DaemonHandle, ref: str) -> None:
        """A lab daemon starts empty and there is no registry: copy from the real daemon."""
        import docker.errors

        try:
            d.client.images.get(ref)
            return
        except docker.errors.ImageNotFound:
            pass
        src = make_client(self.options.docker_host)
        try:
            data = src.api.get_image(ref)
            d.client.images.load(b"".join(data))
        except docker.errors.DockerException as exc:
            log.debug("cannot copy %s into lab host %s: %s", ref, d.key, exc)
        finally:
            src.close()

    def _create_network(self, d: DaemonHandle, net: Network) -> None:
        kwargs = ipam.create_kwargs(
            net.on_host(d.key), docker_name(self.run_id, net.name), self.run_id
        )
        try:
            res = d.client.api.create_network(**kwargs)
        except Exception as exc:
            where = f" on host {d.key!r}" if d.key else ""
            raise RuntimeBuildError(
                f"network {net.name!r}{where}: Docker refused it: {api_message(exc)}"
            ) from exc
        d.networks[net.name] = res["Id"]

    def _network_ref(self, plan: Plan, name: str, key: str = DEFAULT_KEY) -> str:
        external = self._external_names.get((key, name))
        if external is not None:
            return external  # the network as it exists: never one of ours
        return (
            ipam.DEFAULT_BRIDGE
            if ipam.is_default_bridge(name, plan)
            else docker_name(self.run_id, name)
        )

    def _endpoint_config(
        self, d: DaemonHandle, plan: Plan, ep: Endpoint, idx: int
    ) -> dict[str, Any]:
        att = ep.attachments[idx]
        if ipam.is_default_bridge(att.network, plan):
            return {}  # the default bridge takes neither fixed addresses nor aliases
        if (d.key, att.network) in self._external_names:
            # On a network that serves real traffic the probe container answers to no
            # scenario name by itself: an alias "db" there could take a real db's lookups.
            cfg: dict[str, Any] = {"Aliases": list(att.aliases)} if att.aliases else {}
        else:
            cfg = {"Aliases": [ep.name, *att.aliases]}
        if att.ip is not None:
            key = "IPv4Address" if att.ip.version == 4 else "IPv6Address"
            cfg["IPAMConfig"] = {key: str(att.ip)}
        return cfg

    def _start_container(self, plan: Plan, ep: Endpoint, d: DaemonHandle) -> dict[str, Any]:
        api = containeropts.ContainerApi(d.client.api, ep,
                                         lambda net: self._network_ref(plan, net, d.key))
        name = docker_name(self.run_id, ep.name)
        first_net = (self._network_ref(plan, ep.attachments[0].network, d.key)
                     if ep.attachments else "none")
        host_config = api.create_host_config(network_mode=first_net)
        networking = None
        if ep.attachments:
            networking = {"EndpointsConfig": {first_net: self._endpoint_config(d, plan, ep, 0)}}
        mac: str | None = None
        if ep.attachments and not ipam.is_default_bridge(ep.attachments[0].network, plan):
            if d.major is None:
                d.major = server_major(api.version())
            first = plan.network(ep.attachments[0].network).driver
            if wants_lab_mac(lab=d.lab is not None, first_driver=first, major=d.major):
                mac = lab_mac(self.run_id, d.key, ep.name)
        created = api.create_container(
            self._image_for(plan, ep),
            command=SLEEP_CMD,
            name=name,
            hostname=ep.name,
            mac_address=mac,
            labels={RUN_LABEL: self.run_id, NODE_LABEL: ep.name},
            host_config=host_config,
            networking_config=networking,
            detach=True,
        )
        cid = created["Id"]
        with self._lock:
            self._containers.append((d.key, cid))
        for idx in range(1, len(ep.attachments)):
            cfg = self._endpoint_config(d, plan, ep, idx)
            ipam_cfg = cfg.get("IPAMConfig", {})
            api.connect_container_to_network(
                cid,
                self._network_ref(plan, ep.attachments[idx].network, d.key),
                ipv4_address=ipam_cfg.get("IPv4Address"),
                ipv6_address=ipam_cfg.get("IPv6Address"),
                aliases=cfg.get("Aliases"),
            )
        api.start(cid)
        info: dict[str, Any] = api.inspect_container(cid)
        return info

    def _endpoint_node(
        self, plan: Plan, ep: Endpoint, key: str, info: Mapping[str, Any], facts: dict[str, str]
    ) -> Node:
        pid = int(info["State"]["Pid"])
        url = self._daemons[key].url
        site: ProbeSite
        if is_local_url(url):
            site = adopt.local_site(info)
            macs = _macs_in(pid)
        else:  # PID is on another machine: probes go through a sidecar there
            site = RemoteContainer(run_id=self.run_id, container=str(info["Id"]), url=url,
                                   image_tag=self._probe_tags.get(key))
            macs = {}
        nets = info["NetworkSettings"]["Networks"] or {}
        interfaces: list[Interface] = []
        for att in ep.attachments:
            settings = nets.get(self._network_ref(plan, att.network, key))
            if not settings:
                continue
            declared = None
            with contextlib.suppress(KeyError):
                declared = plan.network(att.network)
            interfaces += adopt.attachment_interfaces(
                settings, att.network, macs, adopt.interface_shape(declared, key)
            )
            self._gateway_fact(att.network, key, settings, declared, facts)
        return Node(
            name=ep.name,
            kind=NodeKind.ENDPOINT,
            site=site,
            interfaces=tuple(interfaces),
            host=key or None,
            listen=ep.listen,
            resolver=containeropts.resolver(plan, ep, RESOLVER),
        )

    @staticmethod
    def _gateway_fact(
        network: str,
        key: str,
        settings: Mapping[str, Any],
        declared: Network | None,
        facts: dict[str, str],
    ) -> None:
        gw = settings.get("Gateway") or ""
        if not gw:
            return  # overlay and internal endpoints may have none
        fact = f"network.{network}.gateway"
        if fact in facts and facts[fact] != gw:
            facts[f"{fact}@{key}"] = gw
        else:
            facts.setdefault(fact, gw)
        if declared is None:
            return
        given = [s.gateway for s in declared.subnets if s.gateway is not None]
        if not given and gw:
            ranges = [s.ip_range for s in declared.subnets if s.ip_range is not None]
            facts[f"network.{network}.gateway.note"] = (
                f"no gateway in the scenario; Docker chose {gw}"
                + (f" (ip_range {ranges[0]})" if ranges else "")
            )

    # --- swarm services --------------------------------------------------------------------

    def _start_services(
        self,
        plan: Plan,
        services: list[Service],
        homes: Mapping[str, list[str]],
        facts: dict[str, str],
        running: dict[str, ServiceRecord],
    ) -> dict[str, Node]:
        node_ids = {
            str(d.client.info()["Swarm"].get("NodeID") or ""): key
            for key, d in self._daemons.items()
            if self._in_swarm(d)
        }
        key_of_node = {v: k for k, v in node_ids.items()}
        images = {s.name: swarm_services.image_for(plan, s, self.options.image) for s in services}
        wanted = {
            (key, images[s.name])
            for s in services
            for key in ([s.host] if s.host is not None else list(node_ids.values()))
        }
        parallel(self._put_image, sorted(wanted))

        def start(svc: Service) -> tuple[Service, str, str]:
            manager = homes[svc.networks[0]][0]
            sid = swarm_services.create(
                self._daemons[manager].client, plan, svc,
                run_id=self.run_id, name=docker_name(self.run_id, svc.name),
                network_refs=[docker_name(self.run_id, n) for n in svc.networks],
                image=images[svc.name],
                node_id=key_of_node.get(svc.host) if svc.host is not None else None,
            )
            with self._lock:
                self._services.append((manager, sid))
            return svc, manager, sid

        started = parallel(start, services)
        out: dict[str, Node] = {}
        for svc, manager, sid in started:
            client = self._daemons[manager].client
            tasks = swarm_services.wait_running(client, sid, svc)
            task_nodes: list[Node] = []
            for task in tasks:
                key = node_ids.get(str(task.get("NodeID")), manager)
                cid = task["Status"]["ContainerStatus"]["ContainerID"]
                info = self._daemons[key].client.api.inspect_container(cid)
                stand_in = Endpoint(
                    name=svc.name, host=key or None,
                    attachments=tuple(Attachment(network=n) for n in svc.networks),
                )
                task_nodes.append(self._endpoint_node(plan, stand_in, key, info, facts))
            vips = swarm_services.virtual_ips(
                client.api.inspect_service(sid), self._daemons[manager].networks
            )
            listen = swarm_services.responder_ports(svc, images[svc.name])
            out[svc.name] = swarm_services.service_node(svc, task_nodes[0], vips, listen)
            running[svc.name] = ServiceRecord(
                name=svc.name, mode=svc.endpoint_mode,
                tasks=tuple(
                    ServiceTask(host=n.host or None, addresses=tuple(
                        i.address for i in n.interfaces if i.address is not None))
                    for n in task_nodes
                ),
                vips={k: ipaddress.ip_interface(v).ip for k, v in vips.items()},
            )
            # Display text for the reports' facts; readers use the record above.
            facts[f"service.{svc.name}.mode"] = svc.endpoint_mode.value
            facts[f"service.{svc.name}.tasks"] = ", ".join(
                f"{n.host or '-'}:{i.address}" for n in task_nodes for i in n.interfaces
            )
            if vips:
                facts[f"service.{svc.name}.vip"] = ", ".join(f"{k}={v}" for k, v in vips.items())
        return out

    # --- teardown ------------------------------------------------------------------------

    def teardown(self) -> None:
        errors: list[str] = []
        daemons = self._daemons
        t = time.monotonic()
        steps.remove_services(daemons, self._services, errors)
        with_tasks = bool(self._services)
        self._services.clear()
        made = steps.containers_to_remove(daemons, self._containers, self.run_id, with_tasks)
        steps.remove_containers(daemons, made, errors)
        if self._containers:
            self._timed("containers_down", t)
        self._containers.clear()
        steps.sweep_sidecars(daemons, self.run_id)
        steps.remove_networks(daemons, errors)
        steps.leave_swarms(daemons, errors)
        labs = [d.lab for d in daemons.values() if d.lab is not None]
        idle = steps.idle_labs(daemons)
        steps.close_clients(daemons)
        t = time.monotonic()
        steps.stop_lab_daemons(labs, idle)
        if labs:
            self._timed("daemons_down", t)
        self._daemons.clear()
        if self._underlay is not None:
            try:
                self._underlay.teardown()
            except NetcheckError as exc:
                errors.append(f"underlay: {exc}")
            self._underlay = None
        if self._state_written:
            state.remove(self.run_id)
            self._state_written = False
        with contextlib.suppress(OSError):
            (RUN_DIR / self.run_id).rmdir()  # the lab daemons' parent, once empty
        for err in errors:
            log.warning("teardown: %s", err)


def _macs_in(pid: int) -> dict[str, str]:
    """MAC -> interface name inside a container's network namespace.

    The container's own /sys is a sysfs mounted from inside its namespace, so reading it
    through /proc/PID/root lists its links without entering anything; pyroute2 is the
    fallback when that view is unavailable.
    """
    out: dict[str, str] = {}
    base = Path(f"/proc/{pid}/root/sys/class/net")
    try:
        for dev in base.iterdir():
            with contextlib.suppress(OSError):
                out[(dev / "address").read_text().strip().lower()] = dev.name
    except OSError:
        pass
    if out:
        return out
    try:
        from pyroute2 import IPRoute

        with IPRoute(netns=f"/proc/{pid}/ns/net", flags=0) as ipr:
            for link in ipr.get_links():
                mac = link.get_attr("IFLA_ADDRESS")
                if mac:
                    out[str(mac).lower()] = str(link.get_attr("IFLA_IFNAME"))
    except Exception as exc:
        log.debug("cannot list links of pid %d: %s", pid, exc)
    return out
