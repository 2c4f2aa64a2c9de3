"""Raw VXLAN devices on lab hosts, as a user makes them between two Docker hosts:

    ip link add NAME type vxlan id VNI remote REMOTE local LOCAL dstport PORT dev DEV
    ip link set NAME mtu MTU master br-NET up

The kernel does everything else (encapsulation, the FDB's default entry to the remote,
dropping a VNI or port it has no device for): netcheck emulates none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcheck.model.plan import IPAddress, Plan, Vxlan
from netcheck.runtime.netns.context import (
    SCENARIO_ERRNOS,
    BuildContext,
    Built,
    BuiltIf,
    describe,
    refused,
)

if TYPE_CHECKING:
    from netcheck.runtime.netns.layout import EndpointLayout


def link_args(vx: Vxlan, *, dev_index: int, local: IPAddress) -> dict[str, Any]:
    """The netlink request for `vx` (pure: tested without root)."""
    family = "6" if vx.remote.version == 6 else ""
    args: dict[str, Any] = {
        "ifname": vx.name,
        "kind": "vxlan",
        "vxlan_id": vx.vni,
        "vxlan_link": dev_index,
        f"vxlan_group{family}": str(vx.remote),
        f"vxlan_local{family}": str(local),
        "vxlan_port": vx.port,
        "vxlan_learning": 1,
    }
    if vx.mtu is not None:
        args["mtu"] = vx.mtu
    return args


def create(ipr: IPRoute, vx: Vxlan, *, dev_index: int, local: IPAddress,
           master_index: int | None, alias: str) -> int:
    """Create the device in the namespace `ipr` talks to, enslave it, bring it up."""
    ipr.link("add", **link_args(vx, dev_index=dev_index, local=local))
    index = int(ipr.link_lookup(ifname=vx.name)[0])
    extra: dict[str, Any] = {"master": master_index} if master_index is not None else {}
    ipr.link("set", index=index, ifalias=alias, state="up", **extra)
    return index


def devices(ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built) -> None:
    """Build step: every host's VXLAN devices, once uplinks and network bridges exist."""
    for host in plan.lab.hosts:
        for vx in host.vxlans:
            dev = str(vx.dev)
            local = vx.local or next(u.ip for u in host.uplinks if u.ifname == dev)
            assert local is not None  # validate refuses a dev without an address
            master = None
            if vx.master is not None:
                master = built.bridge_index.get((host.name, vx.master))
                if master is None:
                    # (The docker runtime hands its underlay no master: Docker's bridge
                    # comes later, runtime/docker/vxlan.py.)
                    raise refused(vx.location, f"vxlan {host.name}:{vx.name}: network "
                                  f"{vx.master} has no bridge on {host.name}",
                                  f"Is an endpoint on {host.name} built on {vx.master}?")
            ctx.step = (f"creating vxlan {host.name}:{vx.name} (id {vx.vni} remote "
                        f"{vx.remote} local {local} dstport {vx.port} dev {dev})")
            try:
                create(ctx.ipr[host.name], vx, dev_index=built.uplink_index[(host.name, dev)],
                       local=local, master_index=master, alias=ctx.alias)
            except NetlinkError as exc:
                if exc.code not in SCENARIO_ERRNOS:
                    raise
                raise refused(vx.location, f"{ctx.step}: the kernel refused it: "
                              f"{describe(exc)}") from exc
            built.host_used.setdefault(host.name, {"lo"}).add(vx.name)
            built.add_if(host.name, BuiltIf(vx.name, vx.master or vx.name, None, None, "vxlan",
                                            parent=f"{host.name}:{dev}"))
