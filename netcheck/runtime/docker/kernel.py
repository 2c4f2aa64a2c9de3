"""What the running kernel can do for Docker's drivers, probed in a throwaway namespace."""

from __future__ import annotations

import functools
import importlib
import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

# `ip -batch` reads its commands from stdin: two links in one anonymous network namespace
# that vanishes with the process, so the probe never touches a namespace anyone uses.
_IPVLAN_PROBE = (
    b"link add ncprobe0 type veth peer name ncprobe1\n"
    b"link add ncprobe2 link ncprobe0 type ipvlan mode l2\n"
)


def ipvlan_missing(run_id: str) -> str | None:
    """None when the kernel can make ipvlan links; else the reason, for skip messages."""
    try:
        features = importlib.import_module("netcheck.runtime.features")
    except ImportError:
        return _probe_ipvlan()
    found = features.probe(run_id)
    return None if found.has("ipvlan") else str(found.reason("ipvlan"))


@functools.cache
def _probe_ipvlan() -> str | None:
    """Fallback probe when the shared features module is absent."""
    if Path("/sys/module/ipvlan").exists():
        return None
    try:
        proc = subprocess.run(
            ["unshare", "--net", "--", "ip", "-batch", "-"],
            input=_IPVLAN_PROBE,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot probe the kernel for ipvlan: {exc}"
    if proc.returncode == 0:
        return None
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    detail = [ln for ln in lines if not ln.startswith("Command failed")]
    why = detail[0] if detail else f"ip exit {proc.returncode}"
    return f"kernel lacks ipvlan ({why})"
