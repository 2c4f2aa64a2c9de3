"""Swarm services for the docker runtime: what this kernel allows, how to create, what to probe.

A service is a probe target by its name. In vip mode the name is one virtual IP that IPVS
balances over the tasks; in dnsrr mode it resolves to the tasks' own addresses. A published
port is answered on every swarm node by the routing mesh (IPVS again). Without IPVS neither
the VIP nor the mesh exists, so those nodes and checks are skipped with the reason; a dnsrr
service with no published port needs no IPVS and is built everywhere.

TCP ports are answered by every task itself (busybox `nc -ll`, the netcheck image), since a
VIP may send a probe to any of them; UDP ports (and every port of a custom image) get
netcheck's responder in the first task's namespace.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from netcheck.errors import RuntimeBuildError
from netcheck.image import DEFAULT_IMAGE
from netcheck.model.plan import (
    EndpointMode,
    IPAddress,
    NodeKind,
    Plan,
    Port,
    ProbeKind,
    PublishMode,
    Service,
)
from netcheck.model.results import Interface, Node
from netcheck.runtime.docker.multihost import ipvs_missing
from netcheck.runtime.naming import NODE_LABEL, RUN_LABEL

log = logging.getLogger(__name__)

TASKS_TIMEOUT_S = 90.0
# A worker can get a task on an overlay before the manager's node update that carries the
# worker's load-balancer address on it (Engine 20.10; seen under `netcheck vm run`'s
# emulated CPU): the task fails with this, and swarm starts a new one, which then works.
_TRANSIENT_TASK_ERRORS = ("failed to find a load balancer IP to use for network",)
_FORE_LIFE = "2147483647"


def needs_ipvs(svc: Service) -> bool:
    """A VIP, or a port published through the routing mesh (host mode is a plain DNAT)."""
    return svc.endpoint_mode is EndpointMode.VIP or any(
        p.mode is PublishMode.INGRESS for p in svc.publish
    )


def unavailable(
    plan: Plan,
    skipped_networks: Mapping[str, str],
    ipvs_reason: Callable[[], str | None] = ipvs_missing,
) -> dict[str, str]:
    """Service names and routing-mesh expectation ids this run cannot build, with the reason.

    IPVS is probed only when some service needs it.
    """
    out: dict[str, str] = {}
    reason: str | None = None
    if any(needs_ipvs(s) for s in plan.services):
        reason = ipvs_reason()
    for svc in plan.services:
        lost = [n for n in svc.networks if n in skipped_networks]
        if lost:
            out[svc.name] = f"{skipped_networks[lost[0]]}; needed by network {lost[0]!r}"
        elif reason is not None and needs_ipvs(svc):
            out[svc.name] = reason
    for exp_id, svc in plan.routing_mesh().items():
        why = out.get(svc.name) or (reason if reason is not None else None)
        if why is not None:
            ports = ", ".join(
                f"{p.proto.value}/{p.published}" for p in svc.publish
                if p.mode is PublishMode.INGRESS
            )
            out[exp_id] = f"{why}; service {svc.name!r} publishes {ports} through the routing mesh"
    return out


def image_for(plan: Plan, svc: Service, default: str | None) -> str:
    return svc.image or plan.image or default or DEFAULT_IMAGE


def _self_served(svc: Service, image: str) -> tuple[Port, ...]:
    if image != DEFAULT_IMAGE:
        return ()
    return tuple(p for p in svc.listen if p.proto is ProbeKind.TCP)


def command(svc: Service, image: str) -> list[str]:
    """The task's command: a long sleep, with a persistent TCP listener per served port."""
    served = _self_served(svc, image)
    if not served:
        return ["sleep", _FORE_LIFE]
    # Port numbers are validated integers: nothing user-typed reaches the container's shell.
    loops = " ".join(str(p.number) for p in served)
    return ["sh", "-c", f"for p in {loops}; do nc -ll -p $p -e true & done; "
                        f"exec sleep {_FORE_LIFE}"]


def responder_ports(svc: Service, image: str) -> tuple[Port, ...]:
    """Ports netcheck's responder must serve in the first task (the rest serve themselves)."""
    served = set(_self_served(svc, image))
    return tuple(p for p in svc.listen if p not in served)


def create(
    client: Any,
    plan: Plan,
    svc: Service,
    *,
    run_id: str,
    name: str,
    network_refs: Sequence[str],
    image: str,
    node_id: str | None,
) -> str:
    """`docker service create` on the manager; returns the service id."""
    from docker.types import EndpointSpec, NetworkAttachmentConfig, ServiceMode

    ports = {p.published: (p.target, p.proto.value, p.mode.value) for p in svc.publish}
    labels = {RUN_LABEL: run_id, NODE_LABEL: svc.name}
    try:
        created = client.services.create(
            image,
            command(svc, image),
            name=name,
            # The plan's name is a DNS alias, as for containers: `db` resolves, not nc-<id>-db.
            networks=[NetworkAttachmentConfig(ref, aliases=[svc.name]) for ref in network_refs],
            endpoint_spec=EndpointSpec(mode=svc.endpoint_mode.value, ports=ports or None),
            mode=ServiceMode("replicated", replicas=svc.replicas),
            constraints=[f"node.id == {node_id}"] if node_id else None,
            labels=labels,
            container_labels=labels,
        )
    except Exception as exc:
        raise RuntimeBuildError(
            f"service {svc.name!r}: Docker refused it: {getattr(exc, 'explanation', exc)}"
        ) from exc
    return str(created.id)


def _task_error(task: Mapping[str, Any]) -> str:
    status = task["Status"]
    return str(status.get("Err") or status.get("Message") or "?")


def is_transient(task: Mapping[str, Any]) -> bool:
    """A failed task swarm replaces and that the next attempt gets past (see above)."""
    err = _task_error(task)
    return any(text in err for text in _TRANSIENT_TASK_ERRORS)


def wait_running(
    client: Any, service_id: str, svc: Service, timeout: float = TASKS_TIMEOUT_S
) -> list[dict[str, Any]]:
    """Poll until `replicas` tasks run. A task that fails is an error at once, unless it
    failed in a known race that swarm's next task gets past; the deadline is an error."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    tasks: list[dict[str, Any]] = []
    while True:
        tasks = client.api.tasks(filters={"service": service_id})
        live = [t for t in tasks if t.get("DesiredState") == "running"]
        running = [t for t in live if t["Status"]["State"] == "running"]
        if len(running) >= svc.replicas:
            return sorted(running, key=lambda t: int(t.get("Slot") or 0))
        broken = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
        fatal = [t for t in broken if not is_transient(t)]
        if fatal:
            raise RuntimeBuildError(
                f"service {svc.name!r}: a task {fatal[0]['Status']['State']}: "
                f"{_task_error(fatal[0])}"
            )
        if time.monotonic() >= deadline:
            states = ", ".join(sorted(t["Status"]["State"] for t in live)) or "no tasks"
            last = f"; a task failed: {_task_error(broken[-1])}" if broken else ""
            raise RuntimeBuildError(
                f"service {svc.name!r}: {len(running)}/{svc.replicas} task(s) running after "
                f"{timeout:.0f} s ({states}){last}"
            )
        if broken:
            log.debug("service %s: %d task(s) failed in a known race; swarm retries them",
                      svc.name, len(broken))
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def wait_tasks_gone(client: Any, service_id: str, timeout: float = 20.0) -> bool:
    """After `docker service rm`: poll (bounded) until its task containers are gone."""
    deadline = time.monotonic() + timeout
    label = f"com.docker.swarm.service.id={service_id}"
    while client.api.containers(all=True, filters={"label": label}):
        if time.monotonic() >= deadline:
            log.warning("service %s: task containers still there after %.0f s",
                        service_id[:12], timeout)
            return False
        time.sleep(0.2)
    return True


def virtual_ips(attrs: Mapping[str, Any], network_ids: Mapping[str, str]) -> dict[str, str]:
    """Plan network name -> "ADDR/LEN" of the service's VIP on it."""
    by_id = {nid: name for name, nid in network_ids.items()}
    out: dict[str, str] = {}
    for vip in (attrs.get("Endpoint") or {}).get("VirtualIPs") or []:
        name = by_id.get(str(vip.get("NetworkID")))
        if name is not None and vip.get("Addr"):
            out[name] = str(vip["Addr"])
    return out


def service_node(svc: Service, first_task: Node, vips: Mapping[str, str],
                 listen: tuple[Port, ...]) -> Node:
    """The target: the VIP (vip mode) or the first task's addresses (dnsrr).

    The node's namespace is the first task's, where netcheck's responder serves `listen`.
    """
    interfaces: tuple[Interface, ...] = first_task.interfaces
    if svc.endpoint_mode is EndpointMode.VIP:
        vip_ifaces: list[Interface] = []
        for net in svc.networks:
            text = vips.get(net)
            if text is None:
                continue
            iface = ipaddress.ip_interface(text)
            address: IPAddress = iface.ip
            vip_ifaces.append(Interface(ifname="vip", network=net, address=address,
                                        prefix=iface.network, kind="ipvs"))
        interfaces = tuple(vip_ifaces)
    return Node(
        name=svc.name,
        kind=NodeKind.SERVICE,
        site=first_task.site,
        interfaces=interfaces,
        host=first_task.host,
        listen=listen,
        resolver=first_task.resolver,
    )
