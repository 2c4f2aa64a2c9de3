"""The docker runtime's build, as steps it composes in order (DockerRuntime.BUILD_STEPS).

Each step is a function of (runtime, Build): it reads what earlier steps left in the Build
and adds its own part. What a step decides without a daemon lives here as a pure function
(tested without Docker: tests/runtime/docker/test_build.py); what it does to daemons is the
runtime's (it holds them, and teardown removes what they made).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Driver, Endpoint, Host, Network, Plan, Service
from netcheck.model.results import DockerEnvironment, Node, ServiceRecord
from netcheck.runtime.base import ProgressFn
from netcheck.runtime.docker import ipam
from netcheck.runtime.docker.adopt import ExistingInfo, FoundNetwork
from netcheck.runtime.docker.multihost import unbuildable_networks


@dataclass(slots=True, kw_only=True)
class Build:
    """What the build steps hand each other, filled in step order."""

    plan: Plan  # external networks are replaced by what the daemons hold (read_existing)
    progress: ProgressFn
    unavailable: dict[str, str] = field(default_factory=dict)  # node -> why not built
    skipped: set[str] = field(default_factory=set)  # networks not built at all
    lab_hosts: list[Host] = field(default_factory=list)  # hosts that get a lab dockerd
    facts: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    lab_netns: Mapping[str, str] = field(default_factory=dict)
    docker: DockerEnvironment | None = None
    endpoints: list[Endpoint] = field(default_factory=list)  # the containers netcheck makes
    existing: list[Endpoint] = field(default_factory=list)  # containers it adopts
    placement: dict[str, str] = field(default_factory=dict)  # endpoint -> daemon key
    found: dict[tuple[str, str], FoundNetwork] = field(default_factory=dict)
    adopted: dict[Endpoint, ExistingInfo] = field(default_factory=dict)
    networks: list[Network] = field(default_factory=list)  # the networks netcheck makes
    homes: dict[str, list[str]] = field(default_factory=dict)  # network -> daemon keys
    services: list[Service] = field(default_factory=list)
    started: list[tuple[Endpoint, dict[str, Any]]] = field(default_factory=list)
    running: dict[str, ServiceRecord] = field(default_factory=dict)


def unavailable(
    plan: Plan, ipvlan_reason: Callable[[], str | None]
) -> tuple[dict[str, str], set[str]]:
    """Endpoints this run cannot build (with the reason) and the networks it skips:
    ipvlan without the kernel's support (`ipvlan_reason` is asked only if one is
    declared), and networks no Docker can build."""
    out: dict[str, str] = {}
    skipped: set[str] = set()
    ipvlan_nets = {n.name for n in plan.networks if n.driver is Driver.IPVLAN}
    reason = ipvlan_reason() if ipvlan_nets else None
    if reason is not None:
        skipped |= ipvlan_nets
        for ep in plan.endpoints:
            hit = sorted({a.network for a in ep.attachments} & ipvlan_nets)
            if hit:
                out[ep.name] = f"{reason}; needed by network {hit[0]!r}"
    for net_name, why in unbuildable_networks(plan.networks).items():
        skipped.add(net_name)
        for ep in plan.endpoints:
            if ep.name not in out and any(a.network == net_name for a in ep.attachments):
                out[ep.name] = f"{why}; needed by network {net_name!r}"
    return out, skipped


def lab_hosts(plan: Plan) -> list[Host]:
    """The hosts that are lab namespaces with their own dockerd (no Docker URL)."""
    return [h for h in plan.lab.hosts if h.docker_url is None]


def needs_underlay(plan: Plan) -> bool:
    lab = plan.lab
    return bool(lab.lans or lab_hosts(plan) or lab.machines or lab.all_routers)


def _hosts_of(plan: Plan, wanted: Callable[[str], bool]) -> set[str]:
    """Lab hosts with an endpoint on a network `wanted` accepts (an endpoint naming no
    host sits on the first lab host, by name)."""
    lab = sorted(h.name for h in lab_hosts(plan))
    out: set[str] = set()
    for ep in plan.endpoints:
        if any(wanted(a.network) for a in ep.attachments):
            out.add(ep.host if ep.host is not None else (lab[0] if lab else ""))
    return out


def hosts_with_default_bridge(plan: Plan) -> set[str]:
    """Lab hosts whose dockerd needs its default bridge (docker0)."""
    return _hosts_of(plan, lambda name: ipam.is_default_bridge(name, plan))


def hosts_with_bridges(plan: Plan) -> set[str]:
    """Lab hosts with an endpoint on a bridge network (their dockerd keeps iptables)."""
    bridges = {n.name for n in plan.networks if n.driver is Driver.BRIDGE}
    return _hosts_of(plan, bridges.__contains__)


def iptables_hosts(plan: Plan) -> set[str]:
    """Lab hosts whose dockerd runs with iptables: bridges NAT and isolate there, and
    published ports (mesh or host mode) are DNATs on every swarm node."""
    out = hosts_with_default_bridge(plan) | hosts_with_bridges(plan)
    if any(s.publish for s in plan.services):
        out |= {h.name for h in lab_hosts(plan)}
    return out


def daemon_key(ep: Endpoint, keys: Sequence[str]) -> str:
    """The daemon an endpoint runs on: its host, or the one daemon there is."""
    if ep.host is not None:
        if ep.host not in keys:
            raise RuntimeBuildError(
                f"endpoint {ep.name!r}: host {ep.host!r} is not a Docker host of this run"
            )
        return ep.host
    if len(keys) == 1:
        return keys[0]
    raise RuntimeBuildError(
        f"endpoint {ep.name!r} names no host and the lab has {len(keys)}: set `host:` on it"
    )


def network_homes(
    networks: Sequence[Network],
    endpoints: Sequence[Endpoint],
    placement: Mapping[str, str],
    order: Sequence[str],
) -> tuple[dict[str, list[str]], list[str]]:
    """Which daemons each network is created on (those of its endpoints, or every one;
    an overlay on the swarm manager only), and the daemons the overlays' endpoints need
    in the swarm, in daemon order."""
    homes: dict[str, list[str]] = {}
    for net in networks:
        keys = {
            placement[ep.name]
            for ep in endpoints
            if any(a.network == net.name for a in ep.attachments)
        }
        ordered = [k for k in order if k in keys] or list(order)
        homes[net.name] = ordered[:1] if net.driver is Driver.OVERLAY else ordered
    overlays = {n.name for n in networks if n.driver is Driver.OVERLAY}
    members = {
        placement[ep.name] for ep in endpoints for a in ep.attachments if a.network in overlays
    }
    return homes, sorted(members, key=list(order).index)


def environment(version: Mapping[str, Any], lab: bool) -> DockerEnvironment:
    """The Docker versions a run used (from the first daemon's /version)."""
    return DockerEnvironment(
        server_version=str(version.get("Version", "?")),
        api_version=str(version.get("ApiVersion", "?")),
        mode="lab" if lab else "host",
    )


def environment_facts(env: DockerEnvironment, ready_s: Mapping[str, float]) -> dict[str, str]:
    """The environment as display text for the reports' facts (readers use the record),
    with each lab daemon's start-up time."""
    facts = {
        "docker.server_version": env.server_version,
        "docker.api_version": env.api_version,
        "docker.mode": env.mode,
    }
    for key, secs in ready_s.items():
        facts[f"docker.{key}.daemon_ready_s"] = f"{secs:.2f}"
    return facts


def external_facts(found: Mapping[tuple[str, str], FoundNetwork]) -> dict[str, str]:
    """One display line per external network per daemon it was read on."""
    out: dict[str, str] = {}
    for (key, name), fn in sorted(found.items()):
        where = f"@{key}" if key else ""
        out[f"network.{name}.docker{where}"] = (
            f"{fn.docker_name} {fn.docker_id[:12]} (external, {fn.network.driver_name})"
        )
    return out


def adopted_fact(info: Mapping[str, Any]) -> str:
    return f"{str(info.get('Name', '')).lstrip('/')} {str(info['Id'])[:12]} (existing)"


def timing_facts(timings: Mapping[str, float]) -> dict[str, str]:
    return {f"docker.build.{phase}_s": f"{secs:.2f}" for phase, secs in timings.items()}
