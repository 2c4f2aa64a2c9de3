"""What the running kernel can build, found by trying it in a scratch namespace.

Config files and /proc/modules lie (modules autoload, kernels are built differently), so
each feature is probed by creating the link kind in a throwaway namespace `nc-<id>-probe`.
The answer is cached for the life of the process: the kernel does not change under us.

Two features a swarm leans on are not link kinds; they are probed as Docker would use them,
in a throwaway namespace (`unshare --net`), by one argv each that the runtime runs here and
`netcheck doctor` runs on its (possibly remote) host:

- ESP: an encrypted overlay programs IPsec ESP transport SAs with `rfc4106(gcm(aes))`;
- IPVS: a VIP service and the routing mesh load-balance through it (the generic netlink
  family lookup makes the kernel autoload ip_vs, as Docker's first VIP would).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcheck.runtime.linkkinds import KCONFIG, LINK_KINDS, SCRATCH_VETHS
from netcheck.runtime.naming import NETNS_DIR, PROBE, netns_path
from netcheck.runtime.netns import nsfs

log = logging.getLogger(__name__)

# Names as users know them, where they differ from the key.
DISPLAY = {"esp": "ESP", "ipvs": "IPVS"}
# What needs it, for features whose absence is not obvious from the name.
NEEDED_BY = {
    "esp": "an encrypted overlay needs IPsec ESP with rfc4106(gcm(aes))",
    "ipvs": "swarm VIP services and the routing mesh need it",
}


def lacks(feature: str) -> str:
    """A skip reason: "kernel lacks ipvlan (CONFIG_IPVLAN)", with what needs it if not obvious."""
    text = f"kernel lacks {DISPLAY.get(feature, feature)} ({KCONFIG.get(feature, feature)})"
    needed = NEEDED_BY.get(feature)
    return f"{text}: {needed}" if needed else text


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelFeatures:
    release: str
    available: frozenset[str]
    missing: frozenset[str]

    def has(self, feature: str) -> bool:
        return feature in self.available

    def reason(self, feature: str) -> str:
        """A skip reason: "kernel lacks ipvlan (CONFIG_IPVLAN)"."""
        return lacks(feature)

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
                for lower in SCRATCH_VETHS[1:]:
                    ipr.link("add", ifname=lower, kind="veth", peer={"ifname": f"{lower[0]}1"})
            for kind in LINK_KINDS.values():
                if kind.lower is not None and "veth" not in available:
                    continue  # no lower device to hang it off: neither had nor missing
                index = ipr.link_lookup(ifname=kind.lower)[0] if kind.lower else None
                attempt(kind.name, partial(ipr.link, "add", **kind.netlink(index)))
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
        _checks.clear()


# --- ESP and IPVS: one argv each, run locally or through a doctor host ------------------------

# Docker's overlay encryption (libnetwork/drivers/overlay/encryption.go): AES-GCM with a
# 16-byte key and 4-byte salt, as an ESP transport-mode SA.
_ESP_ARGV = (
    "ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp",
    "spi", "0x100", "reqid", "1", "mode", "transport",
    "aead", "rfc4106(gcm(aes))", "0x0102030405060708091011121314151617181920", "64",
)
_IPVS_ARGV = ("genl", "ctrl", "get", "name", "IPVS")
# A fresh network namespace dies with the command: the SA (or IPVS state) goes with it.
CHECK_ARGV: dict[str, tuple[str, ...]] = {
    "esp": ("unshare", "--net", "--", *_ESP_ARGV),
    "ipvs": ("unshare", "--net", "--", *_IPVS_ARGV),
}
_ATTEMPT = {
    "esp": "adding Docker's ESP SA (rfc4106(gcm(aes))) in a scratch namespace",
    "ipvs": "looking up the IPVS generic netlink family",
}
_TOOL = {"esp": "ip (iproute2)", "ipvs": "genl (iproute2)"}


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureCheck:
    """The answer to one ESP/IPVS probe, with the kernel's own words."""

    feature: str  # esp | ipvs
    ok: bool
    answer: str  # the first error line, or "ok"
    probed: bool = True  # False: the probe itself could not run (tool missing, no privilege)

    @property
    def reason(self) -> str | None:
        """None when the feature works; else a skip reason for the nodes that need it."""
        if self.ok:
            return None
        if not self.probed:
            return f"cannot probe the kernel for {DISPLAY[self.feature]}: {self.answer}"
        return f"{lacks(self.feature)}; {_ATTEMPT[self.feature]} failed: {self.answer}"

    @property
    def attempt(self) -> str:
        return _ATTEMPT[self.feature]


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.startswith("Command failed")]
    return lines[0] if lines else ""


def judge(feature: str, rc: int, stdout: str, stderr: str) -> FeatureCheck:
    """Read one probe's exit status and output (pure: the doctor feeds it remote answers)."""
    if rc == 0:
        return FeatureCheck(feature=feature, ok=True, answer="ok")
    why = _first_line(stderr) or _first_line(stdout) or f"exit status {rc}"
    # 127: the tool is not installed ("unshare: failed to execute genl"); "unshare failed":
    # no privilege for a namespace. Neither says anything about the kernel.
    if rc == 127 or "failed to execute" in why or "unshare failed" in why:
        return FeatureCheck(feature=feature, ok=False, probed=False,
                            answer=f"{why} (needs {_TOOL[feature]} and root)")
    return FeatureCheck(feature=feature, ok=False, answer=why)


Runner = Callable[[Sequence[str]], tuple[int, str, str]]


def _run_local(argv: Sequence[str]) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=10,
                              check=False)
    except FileNotFoundError as exc:
        return 127, "", str(exc)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 126, "", f"unshare: failed to execute: {exc}"
    return proc.returncode, proc.stdout, proc.stderr


def run_check(feature: str, runner: Runner) -> FeatureCheck:
    """Probe one feature through any runner (this machine, or a doctor host)."""
    rc, out, err = runner(CHECK_ARGV[feature])
    found = judge(feature, rc, out, err)
    log.debug("feature %s: %s", feature, found)
    return found


_checks: dict[str, FeatureCheck] = {}


def check(feature: str) -> FeatureCheck:
    """Probe ESP or IPVS on this machine, once per process (only when something needs it)."""
    with _lock:
        found = _checks.get(feature)
    if found is None:
        found = run_check(feature, _run_local)
        with _lock:
            found = _checks.setdefault(feature, found)
    return found
