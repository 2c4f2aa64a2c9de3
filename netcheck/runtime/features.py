"""What the running kernel can build, found by trying it in a scratch namespace.

Config files and /proc/modules lie (modules autoload, kernels are built differently), so
each feature is probed by creating the link kind in a throwaway namespace `nc-<id>-probe`.
The answer is cached for the life of the process: the kernel does not change under us.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcheck.runtime.naming import NETNS_DIR, PROBE, netns_path
from netcheck.runtime.netns import nsfs

log = logging.getLogger(__name__)

# Why each feature might be missing, in the words a skip reason needs.
KCONFIG = {
    "veth": "CONFIG_VETH",
    "bridge": "CONFIG_BRIDGE",
    "macvlan": "CONFIG_MACVLAN",
    "ipvlan": "CONFIG_IPVLAN",
    "vxlan": "CONFIG_VXLAN",
    "vlan": "CONFIG_VLAN_8021Q",
    "dummy": "CONFIG_DUMMY",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelFeatures:
    release: str
    available: frozenset[str]
    missing: frozenset[str]

    def has(self, feature: str) -> bool:
        return feature in self.available

    def reason(self, feature: str) -> str:
        """A skip reason: "kernel lacks ipvlan (CONFIG_IPVLAN)"."""
        return f"kernel lacks {feature} ({KCONFIG.get(feature, feature)})"

    def facts(self) -> dict[str, str]:
        return {
            "kernel": self.release,
            "kernel_features": ",".join(sorted(self.available)),
            "kernel_missing": ",".join(sorted(self.missing)),
        }


_cache: KernelFeatures | None = None
_lock = threading.Lock()


def probe(run_id: str, netns_dir: str = NETNS_DIR) -> KernelFeatures:
    """Probe once per process (later calls return the cached answer)."""
    global _cache
    with _lock:
        if _cache is None:
            _cache = _probe(run_id, netns_dir)
        return _cache


def _probe(run_id: str, netns_dir: str) -> KernelFeatures:
    path = netns_path(run_id, PROBE, netns_dir)
    created: dict[str, int] = {}
    available: set[str] = set()
    missing: set[str] = set()
    try:
        nsfs.create_many([nsfs.NsSpec(path=path)], created)
        ipr = IPRoute(fileno=created.pop(path))
        try:

            def attempt(name: str, make: Callable[[], object]) -> bool:
                try:
                    make()
                except NetlinkError as exc:
                    log.debug("feature %s: %s", name, exc)
                    missing.add(name)
                    return False
                available.add(name)
                return True

            if attempt(
                "veth", lambda: ipr.link("add", ifname="p0", kind="veth", peer={"ifname": "p1"})
            ):
                lower = ipr.link_lookup(ifname="p0")[0]
                attempt(
                    "macvlan",
                    lambda: ipr.link(
                        "add", ifname="mv0", kind="macvlan", link=lower, macvlan_mode="bridge"
                    ),
                )
                ipr.link("add", ifname="q0", kind="veth", peer={"ifname": "q1"})
                lower2 = ipr.link_lookup(ifname="q0")[0]
                attempt(
                    "ipvlan",
                    lambda: ipr.link(
                        "add", ifname="ipv0", kind="ipvlan", link=lower2, ipvlan_mode=0
                    ),
                )
                attempt(
                    "vlan", lambda: ipr.link("add", ifname="v0", kind="vlan", link=lower, vlan_id=5)
                )
            attempt("bridge", lambda: ipr.link("add", ifname="br0", kind="bridge"))
            attempt(
                "vxlan",
                lambda: ipr.link("add", ifname="vx0", kind="vxlan", vxlan_id=42, vxlan_port=4789),
            )
            attempt("dummy", lambda: ipr.link("add", ifname="d0", kind="dummy"))
        finally:
            ipr.close()
    finally:
        for fd in created.values():
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        nsfs.remove(path)
    result = KernelFeatures(
        release=os.uname().release, available=frozenset(available), missing=frozenset(missing)
    )
    log.debug("kernel %s: has %s, lacks %s", result.release, available, missing)
    return result


def reset_cache() -> None:
    """For tests."""
    global _cache
    with _lock:
        _cache = None
