"""KVM or TCG: decided by trying, because an openable /dev/kvm proves little.

Seen on this project's build machine (itself a guest): /dev/kvm opens, but QEMU aborts with
`-cpu host` ("failed to set MSR") and a stock kernel hangs silently with other CPU models.
So the probe boots the chosen kernel under KVM the way virtme-ng would (`-cpu host`) and
waits a few seconds for its first console line. The answer is cached per boot of the host
in /run (a tmpfs: a reboot, or new hardware, asks again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

KVM_DEVICE = Path("/dev/kvm")
CACHE = Path("/run/netcheck/kvm-probe.json")
PROBE_SECONDS = 5.0
# Printed by every x86 kernel early in boot, long before it needs a root filesystem.
_FIRST_LINE = b"Linux version"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _try_kvm(qemu: str, kernel: Path, seconds: float) -> bool:
    cmd = [
        qemu, "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-no-reboot",
        "-display", "none", "-serial", "stdio", "-kernel", str(kernel),
        "-append", "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 init=/nonexistent",
    ]
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        log.debug("kvm probe: cannot start %s: %s", qemu, exc)
        return False
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:  # QEMU exited: e.g. the MSR assertion with -cpu host
                break
            seen = (seen + chunk)[-8192:]
            if _FIRST_LINE in seen:
                return True
        log.debug("kvm probe: no kernel output under KVM; last output: %r", seen[-300:])
        return False
    finally:
        _kill_group(proc)


def kvm_usable(qemu: str, kernel: Path, *, use_cache: bool = True) -> bool:
    if not KVM_DEVICE.exists() or not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        return False
    key = {"boot_id": _boot_id(), "qemu": qemu, "kernel": str(kernel)}
    if use_cache:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(CACHE.read_text(encoding="utf-8"))
            if data["key"] == key:
                return bool(data["usable"])
    usable = _try_kvm(qemu, kernel, PROBE_SECONDS)
    log.info("KVM %s", "works" if usable else "does not boot this kernel: using TCG")
    with contextlib.suppress(OSError):
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_text(json.dumps({"key": key, "usable": usable}), encoding="utf-8")
    return usable
