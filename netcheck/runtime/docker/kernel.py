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


@functools.cache
def ipvlan_missing() -> str | None:
    """None when the kernel can make ipvlan links; else the reason, for skip messages."""
    try:
        features = importlib.import_module("netcheck.runtime.features")
        probe = getattr(features, "ipvlan_missing", None)
        if callable(probe):
            result = probe()
            return None if result is None else str(result)
    except ImportError:
        pass
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
    detail = proc.stderr.decode(errors="replace").strip().splitlines()
    why = detail[-1] if detail else f"exit {proc.returncode}"
    return f"kernel lacks ipvlan ({why.removeprefix('Command failed -:2').strip() or why})"
