"""A container's own options as Docker takes them: `--dns`, `--dns-search`,
`--mac-address` (per network, API >= 1.44 as Compose does), its interface MTU (Docker has
no option: set inside the container's namespace after it starts; it is netcheck's own
container) and start order (`depends_on`: waves, each started once the one before runs, so
Docker's IPAM hands the earlier wave its addresses first).

`ContainerApi` wraps the low-level API the runtime calls for one endpoint and adds the
options to the calls it makes anyway: the runtime changes one line to use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Attachment, Endpoint, IPAddress, Plan, start_waves
from netcheck.nsenter import netlink_fd
from netcheck.runtime.docker import ipam
from netcheck.runtime.docker.handles import parallel

T = TypeVar("T")
# The SDK's base_url for a daemon on a unix socket: this machine's (its PIDs are ours).
LOCAL_BASE_URL = "http+docker://localhost"


def host_config_kwargs(ep: Endpoint) -> dict[str, Any]:
    """`create_host_config` keywords: docker run --dns / --dns-search."""
    out: dict[str, Any] = {}
    if ep.dns:
        out["dns"] = [str(ip) for ip in ep.dns]
    if ep.dns_search:
        out["dns_search"] = list(ep.dns_search)
    return out


def with_mac(config: Mapping[str, Any], att: Attachment | None) -> dict[str, Any]:
    """An endpoint config (EndpointsConfig entry) with the attachment's MAC."""
    out = dict(config)
    if att is not None and att.mac is not None:
        out["MacAddress"] = att.mac
    return out


def resolver(plan: Plan, ep: Endpoint, embedded: IPAddress) -> IPAddress:
    """The server a dns probe without `server:` asks. Docker writes `--dns` into the
    container's resolv.conf only where it has no embedded DNS (the default bridge as its
    first network); on a user-defined network resolv.conf says 127.0.0.11, which
    forwards to `--dns`."""
    first = ep.attachments[0].network if ep.attachments else None
    if ep.dns and first is not None and ipam.is_default_bridge(first, plan):
        return ep.dns[0]
    return embedded


def run_in_order(start: Callable[[Endpoint], T], endpoints: Iterable[Endpoint]) -> list[T]:
    """Start the endpoints wave by wave (depends_on), each wave concurrently: a wave
    starts once every container of the one before runs."""
    out: list[T] = []
    for wave in start_waves(list(endpoints)):
        out.extend(parallel(start, wave))
    return out


class ContainerApi:
    """The low-level Docker API as the runtime uses it for one endpoint netcheck starts,
    with the endpoint's options added: dns and dns_search to the host config, each
    network's MAC to its endpoint config, and the MTUs set once the container runs.
    `network_ref` maps a scenario network to its name on Docker."""

    def __init__(self, api: Any, ep: Endpoint, network_ref: Callable[[str], str]) -> None:
        self._api = api
        self._ep = ep
        self._by_ref = {network_ref(a.network): a for a in ep.attachments}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def create_host_config(self, **kwargs: Any) -> Any:
        return self._api.create_host_config(**kwargs, **host_config_kwargs(self._ep))

    def create_container(self, image: str, **kwargs: Any) -> Any:
        networking = kwargs.get("networking_config")
        if networking:
            configs = networking.get("EndpointsConfig", {})
            kwargs["networking_config"] = {**networking, "EndpointsConfig": {
                ref: with_mac(cfg, self._by_ref.get(ref)) for ref, cfg in configs.items()
            }}
            first = self._by_ref.get(next(iter(configs), ""))
            if first is not None and first.mac is not None:
                # The scenario's MAC wins over the lab's own (multihost.lab_mac). The
                # top-level one is what a daemon before API 1.44 reads; a later one refuses
                # a top-level MAC that differs from the endpoint's.
                kwargs["mac_address"] = first.mac
        return self._api.create_container(image, **kwargs)

    def connect_container_to_network(self, container: str, net_id: str, **kwargs: Any) -> Any:
        att = self._by_ref.get(net_id)
        if att is not None and att.mac is not None:
            kwargs["mac_address"] = att.mac
        return self._api.connect_container_to_network(container, net_id, **kwargs)

    def start(self, container: str) -> Any:
        out = self._api.start(container)
        wanted = {ref: a.mtu for ref, a in self._by_ref.items() if a.mtu is not None}
        if wanted:
            if getattr(self._api, "base_url", None) != LOCAL_BASE_URL:
                raise RuntimeBuildError(
                    f"docker: container {self._ep.name} does not run on this machine: "
                    "netcheck sets a container's mtu inside its namespace, which it cannot "
                    "reach through a remote daemon")
            info = self._api.inspect_container(container)
            set_mtus(self._ep.name, int(info["State"]["Pid"]), interface_mtus(info, wanted))
        return out


def interface_mtus(info: Mapping[str, Any], wanted: Mapping[str, int]) -> dict[str, int]:
    """MAC -> MTU for each network in `wanted` (Docker name -> MTU), from inspect: the MAC
    names the interface whatever Docker called it inside."""
    nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
    out: dict[str, int] = {}
    for ref, mtu in wanted.items():
        mac = str((nets.get(ref) or {}).get("MacAddress") or "").lower()
        if not mac:
            raise RuntimeBuildError(f"docker: network {ref!r} of the container has no MAC "
                                    "in docker inspect: cannot find its interface to set "
                                    f"mtu {mtu}")
        out[mac] = mtu
    return out


def set_mtus(name: str, pid: int, by_mac: Mapping[str, int]) -> None:
    """Set each interface's MTU inside the container's namespace (a helper thread enters
    it: no process is forked). The container must run on this machine."""
    if pid <= 0:
        raise RuntimeBuildError(f"docker: container {name} is not running: cannot set its mtu")
    path = f"/proc/{pid}/ns/net"
    if not os.path.exists(path):
        raise RuntimeBuildError(
            f"docker: container {name} does not run on this machine: netcheck sets a "
            "container's mtu inside its namespace, which it cannot reach on a remote daemon")
    from pyroute2 import IPRoute

    with IPRoute(fileno=_netlink_fd(path)) as ipr:
        links = {str(li.get_attr("IFLA_ADDRESS") or "").lower(): li for li in ipr.get_links()}
        for mac, mtu in by_mac.items():
            link = links.get(mac)
            if link is None:
                raise RuntimeBuildError(f"docker: container {name} has no interface with MAC "
                                        f"{mac}: cannot set mtu {mtu}")
            ipr.link("set", index=link["index"], mtu=mtu)


def _netlink_fd(netns: str) -> int:
    """A NETLINK_ROUTE socket made inside `netns` (it keeps that namespace for life)."""
    try:
        return netlink_fd(netns)
    except OSError as exc:
        raise RuntimeBuildError(f"docker: cannot enter {netns}: {exc}") from exc
