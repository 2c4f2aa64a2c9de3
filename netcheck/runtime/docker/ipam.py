"""Pure translation of plan networks into Docker API arguments, and conflict checks. No I/O."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netcheck.model.plan import Driver, IPNetwork, Network, Plan
from netcheck.runtime.naming import RUN_LABEL

DEFAULT_BRIDGE = "bridge"  # Docker's predefined default bridge network

# Candidate ranges for a lab daemon's --default-address-pool and --bip; the first one that
# overlaps nothing in the plan wins (these are lab-private daemons, so only the plan matters).
_POOL_CANDIDATES = ("10.213.0.0/16", "10.214.0.0/16", "172.29.0.0/16", "192.168.224.0/20")
_BIP_CANDIDATES = ("10.215.0.1/24", "10.216.0.1/24", "172.30.255.1/24", "192.168.240.1/24")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExistingNetwork:
    """A network already on a daemon, as far as conflict checks care."""

    name: str
    subnets: tuple[IPNetwork, ...]
    run_id: str | None  # the io.netcheck.run label, None for a user's own network
    driver: str = ""

    def describe(self) -> str:
        owner = f"netcheck run {self.run_id}" if self.run_id else "not made by netcheck"
        return f"{self.name!r} ({self.driver or 'network'}, {owner})"


def ipam_pools(net: Network) -> list[dict[str, Any]]:
    """IPAM pool configs for `docker network create`, as the Engine API expects them."""
    pools: list[dict[str, Any]] = []
    for sub in net.subnets:
        pool: dict[str, Any] = {"Subnet": str(sub.subnet)}
        if sub.ip_range is not None:
            pool["IPRange"] = str(sub.ip_range)
        if sub.gateway is not None:
            pool["Gateway"] = str(sub.gateway)
        if sub.aux_addresses:
            pool["AuxiliaryAddresses"] = {k: str(v) for k, v in sub.aux_addresses.items()}
        pools.append(pool)
    return pools


def wants_ipv6(net: Network) -> bool:
    return any(s.subnet.version == 6 for s in net.subnets)


def driver_options(net: Network) -> dict[str, str]:
    opts: dict[str, str] = {}
    if net.parent and net.driver in (Driver.MACVLAN, Driver.IPVLAN):
        opts["parent"] = net.parent
    if net.driver is Driver.MACVLAN and net.macvlan_mode is not None:
        opts["macvlan_mode"] = net.macvlan_mode.value
    if net.driver is Driver.IPVLAN and net.ipvlan_mode is not None:
        opts["ipvlan_mode"] = net.ipvlan_mode.value
    if net.mtu is not None:
        opts["com.docker.network.driver.mtu"] = str(net.mtu)
    opts.update(net.options)  # the user's verbatim options win
    return opts


def create_kwargs(net: Network, name: str, run_id: str) -> dict[str, Any]:
    """Keyword arguments for `APIClient.create_network`."""
    if net.external or net.driver is None:
        raise ValueError(f"network '{net.name}' is external: netcheck never creates it")
    kwargs: dict[str, Any] = {
        "name": name,
        "driver": net.driver.value,
        "options": driver_options(net),
        "internal": net.internal,
        "labels": {RUN_LABEL: run_id},
        "enable_ipv6": wants_ipv6(net),
        "check_duplicate": True,
    }
    if net.subnets:
        kwargs["ipam"] = {"Driver": "default", "Config": ipam_pools(net), "Options": {}}
    if net.driver is Driver.OVERLAY:
        # Only swarm-scoped networks know "attachable"; without it standalone containers
        # (which is all netcheck makes) cannot join an overlay.
        kwargs["attachable"] = net.attachable
    return kwargs


def is_default_bridge(name: str, plan: Plan) -> bool:
    """An attachment to `bridge` that the plan does not declare means Docker's default bridge."""
    if name != DEFAULT_BRIDGE:
        return False
    try:
        declared = plan.network(name)
    except KeyError:
        return True
    return declared.driver is Driver.BRIDGE and not declared.subnets and not declared.options


def existing_from_api(networks: Iterable[Mapping[str, Any]]) -> list[ExistingNetwork]:
    """Parse `GET /networks` entries into ExistingNetwork (tolerating Docker's nulls)."""
    out: list[ExistingNetwork] = []
    for n in networks:
        subnets: list[IPNetwork] = []
        for cfg in (n.get("IPAM") or {}).get("Config") or []:
            raw = (cfg or {}).get("Subnet")
            if not raw:
                continue
            try:
                subnets.append(ipaddress.ip_network(raw, strict=False))
            except ValueError:
                continue
        labels = n.get("Labels") or {}
        out.append(
            ExistingNetwork(
                name=str(n.get("Name", "")),
                subnets=tuple(subnets),
                run_id=labels.get(RUN_LABEL),
                driver=str(n.get("Driver") or ""),
            )
        )
    return out


def find_conflicts(
    wanted: Sequence[Network], existing: Sequence[ExistingNetwork], where: str
) -> list[str]:
    """One message per plan subnet that overlaps a network already on the daemon."""
    problems: list[str] = []
    for net in wanted:
        for sub in net.subnets:
            for other in existing:
                for theirs in other.subnets:
                    if sub.subnet.version != theirs.version or not sub.subnet.overlaps(theirs):
                        continue
                    problems.append(
                        f"network {net.name!r}: subnet {sub.subnet} overlaps {theirs} of "
                        f"network {other.describe()} on {where}"
                    )
    return problems


def _free(candidates: Sequence[str], used: Sequence[IPNetwork]) -> str:
    for cand in candidates:
        cnet = ipaddress.ip_network(cand, strict=False)
        if not any(cnet.version == u.version and cnet.overlaps(u) for u in used):
            return cand
    raise ValueError("every candidate range overlaps the plan")


def plan_subnets(plan: Plan) -> list[IPNetwork]:
    used: list[IPNetwork] = [lan.subnet for lan in plan.lab.lans]
    for net in plan.networks:
        used.extend(s.subnet for s in net.subnets)
    return used


def lab_pool(plan: Plan) -> str:
    """A --default-address-pool base for lab daemons that overlaps nothing in the plan."""
    return _free(_POOL_CANDIDATES, plan_subnets(plan))


def lab_bip(plan: Plan) -> str:
    """A --bip for a lab daemon's default bridge that overlaps nothing in the plan."""
    return _free(_BIP_CANDIDATES, plan_subnets(plan))
