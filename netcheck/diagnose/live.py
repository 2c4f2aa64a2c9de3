"""Read live network state of a built topology's namespaces: netlink, procfs. Cached per run."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

log = logging.getLogger(__name__)

_NUD = {
    0x01: "INCOMPLETE",
    0x02: "REACHABLE",
    0x04: "STALE",
    0x08: "DELAY",
    0x10: "PROBE",
    0x20: "FAILED",
    0x40: "NOARP",
    0x80: "PERMANENT",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkInfo:
    ifname: str
    index: int
    kind: str | None
    mode: str | None
    link_index: int | None  # the parent's ifindex (macvlan/ipvlan/veth peer), in its own netns
    operstate: str
    carrier: bool
    mtu: int
    mac: str | None


class LiveState:
    """Lazy, cached reads of the namespaces a run built. Never creates a namespace."""

    def __init__(self) -> None:
        self._links: dict[str, list[LinkInfo]] = {}

    def links(self, netns: str) -> list[LinkInfo]:
        if netns not in self._links:
            self._links[netns] = _read_links(netns)
        return self._links[netns]

    def link(self, netns: str, ifname: str) -> LinkInfo | None:
        return next((li for li in self.links(netns) if li.ifname == ifname), None)

    def neighbour_state(self, netns: str, address: str) -> str | None:
        try:
            with IPRoute(netns=netns, flags=0) as ipr:
                for msg in ipr.get_neighbours():
                    if msg.get_attr("NDA_DST") == address:
                        state = int(msg["state"])
                        return "|".join(n for bit, n in _NUD.items() if state & bit) or str(state)
        except (OSError, NetlinkError) as exc:
            log.debug("neighbours of %s: %s", netns, exc)
        return None

    def route_get(self, netns: str, dst: str, src: str | None = None) -> str:
        """`ip route get` as text, or the kernel's error: evidence either way."""
        kwargs: dict[str, Any] = {"dst": dst}
        if src:
            kwargs["src"] = src
        try:
            with IPRoute(netns=netns, flags=0) as ipr:
                routes = ipr.route("get", **kwargs)
        except NetlinkError as exc:
            text = exc.args[1] if len(exc.args) > 1 else str(exc)
            return f"route get {dst}: error {exc.code} ({text})"
        except OSError as exc:
            return f"route get {dst}: {exc}"
        parts = []
        for r in routes:
            via = r.get_attr("RTA_GATEWAY")
            oif = r.get_attr("RTA_OIF")
            pref = r.get_attr("RTA_PREFSRC")
            parts.append(
                f"{dst}" + (f" via {via}" if via else "") + f" oif {oif}"
                + (f" src {pref}" if pref else "")
            )
        return "route get: " + "; ".join(parts)

    def sysctl(self, netns: str, key: str) -> str | None:
        """Read /proc/sys/<key> as seen from inside `netns` (net sysctls are per namespace)."""
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            out = subprocess.run(
                ["nsenter", f"--net={netns}", "--", "cat", path],
                capture_output=True, text=True, timeout=5, check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("sysctl %s in %s: %s", key, netns, exc)
            return None
        return out.stdout.strip()


def _read_links(netns: str) -> list[LinkInfo]:
    out: list[LinkInfo] = []
    try:
        with IPRoute(netns=netns, flags=0) as ipr:
            for msg in ipr.get_links():
                info = msg.get_attr("IFLA_LINKINFO")
                kind = info.get_attr("IFLA_INFO_KIND") if info else None
                mode = None
                if info is not None and kind in ("macvlan", "macvtap", "ipvlan"):
                    data = info.get_attr("IFLA_INFO_DATA")
                    if data is not None:
                        raw = data.get_attr("IFLA_MACVLAN_MODE") or data.get_attr(
                            "IFLA_IPVLAN_MODE"
                        )
                        mode = None if raw is None else str(raw)
                out.append(
                    LinkInfo(
                        ifname=msg.get_attr("IFLA_IFNAME"),
                        index=int(msg["index"]),
                        kind=kind,
                        mode=mode,
                        link_index=msg.get_attr("IFLA_LINK"),
                        operstate=str(msg.get_attr("IFLA_OPERSTATE")),
                        carrier=bool(msg.get_attr("IFLA_CARRIER")),
                        mtu=int(msg.get_attr("IFLA_MTU") or 0),
                        mac=msg.get_attr("IFLA_ADDRESS"),
                    )
                )
    except (OSError, NetlinkError) as exc:
        log.debug("links of %s: %s", netns, exc)
    return out
