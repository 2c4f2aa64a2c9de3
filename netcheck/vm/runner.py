"""Boot a distribution kernel with virtme-ng and run a batch of scenarios inside, once.

virtme-ng (`vng`) boots the kernel on a copy-on-write view of this machine's own root
(`--force-9p`: the generic Debian kernel has 9p; this machine's virtiofsd does not take
vng's flags), so the guest runs this very netcheck with this very venv. The reports folder
is shared read-write (`--rwdir`): the guest writes JSON/JUnit and a results file there.

Never a hang: the whole boot runs in its own process group under a wall-clock limit, and
that group (vng, virtme-run, QEMU) is killed by its PID when the limit passes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.errors import EXIT_ENVIRONMENT, EnvironmentProblem, UsageError
from netcheck.vm.accel import kvm_usable
from netcheck.vm.batch import (
    CONSOLE_NAME,
    HOST_TIMING_NAME,
    MANIFEST_NAME,
    BatchResults,
    make_manifest,
    read_results,
    worst_exit_code,
    write_manifest,
)
from netcheck.vm.kernel import KernelImage, find_kernel

log = logging.getLogger(__name__)

LineFn = Callable[[str], None]

# Modules udev would load for QEMU's emulated hardware that a network test never uses. Under
# TCG each costs time to load and initialise (kvm and the SIMD crypto drivers most): ~5 s.
MODULE_BLACKLIST = (
    "kvm", "kvm_amd", "kvm_intel", "irqbypass", "ccp", "aesni_intel", "sha1_ssse3",
    "sha256_ssse3", "sha512_ssse3", "crc32_pclmul", "crct10dif_pclmul", "ghash_clmulni_intel",
    "psmouse", "ahci", "libahci", "libata", "sr_mod", "cdrom", "i2c_i801", "iTCO_wdt",
    "lpc_ich", "pcspkr", "serio_raw", "evdev", "sg", "intel_pmc_bxt", "i6300esb",
)
# vng's `--verbose` shows the kernel console (where a panic is printed): it is kept as
# <reports>/vm-console.log. loglevel=5 lets warnings through, as the registers and call trace
# of a soft lockup are printed at the default level (4): with loglevel=1 a hang's log said
# only "soft lockup - CPU#1 stuck [python:141]", not where. Informational lines (a line per
# bridge port change; every console byte is slow under TCG) stay out. A stuck CPU may wait
# on another: softlockup_all_cpu_backtrace shows every CPU. A task blocked (D state) for
# 60 s is named (Debian's default is 120 s). Debian's kernel turns AppArmor on, and the guest
# (this machine's root) has no apparmor_parser: dockerd then refuses to start any container
# ("the docker-default profile could not be loaded"). trace_options=norecord-cmd: with
# record-cmd on (the default), every trace event switched on or off also hooks or unhooks
# the scheduler's own tracepoint to keep task names, a text patch of __schedule that
# deadlocked a 2-CPU TCG guest (CPU#1 in text_poke_bp waiting on CPU#0 in exc_int3) as
# the diagnosis re-sent probes; netcheck reads no task name from the trace. Instances
# take the top level's setting.
KERNEL_APPEND = (
    "loglevel=5", "trace_options=norecord-cmd", "softlockup_all_cpu_backtrace=1",
    "sysctl.kernel.hung_task_timeout_secs=60",
    "apparmor=0", "module_blacklist=" + ",".join(MODULE_BLACKLIST),
)
KILL_GRACE_S = 3.0
# The kernel repeats "soft lockup - CPU#1 stuck for 45s! [python:141]" while a CPU stays in
# kernel code without scheduling. Under TCG a starved vCPU can cause one report of 20-40 s
# (the guest's clock runs on while QEMU waits for a host core), after which it goes on; a CPU
# still stuck after this long never came back (a batch ran 900 s into its time limit with
# one), so the VM is stopped then instead of at --timeout.
LOCKUP_KILL_S = 240
_LOCKUP = re.compile(r"soft lockup - CPU#(?P<cpu>\d+) stuck for (?P<s>\d+)s! \[(?P<task>[^\]]*)\]")
_TAIL_LINES = 40
# A second, read-only view of the host's root that the guest mounts with cache=loose: the
# interpreter, the venv and netcheck are bound from it over their own paths before Python
# starts. virtme-ng's root is 9p without a cache, so every stat and read of an import is a
# round trip to QEMU: importing the guest program and the probe worker took 82-128 s under
# TCG that way, 20-29 s from the cached view (benchmarks/vm_batch.py, loaded machine).
# Nothing the guest reads from it changes during a batch; results go to the uncached
# --rwdir share.
CACHED_TAG = "netcheck-ro"
CACHED_MOUNT = "/run/netcheck-vm/ro"


@dataclass(frozen=True, slots=True, kw_only=True)
class VmOptions:
    scenarios: tuple[Path, ...]
    reports: Path = Path("reports")
    run_args: tuple[str, ...] = ()
    kernel: str | None = None  # a file or a folder; None: /boot, then the kernel cache
    timeout_s: float = 900.0  # wall clock for the whole boot, all scenarios included
    accel: str = "auto"  # auto | kvm | tcg
    memory: str = "1G"
    cpus: int = 2
    profile: bool = False  # sample the guest's Python stacks into <reports>/vm-profile.txt
    cached_root: bool = True  # run the guest's Python from the cache=loose view (CACHED_TAG)


@dataclass(frozen=True, slots=True, kw_only=True)
class VmOutcome:
    exit_code: int
    message: str  # one line for the user: what happened
    kernel: KernelImage
    accel: str
    elapsed_s: float
    results: BatchResults | None
    console_log: Path
    vng_exit: int | None = None  # None: killed at the time limit
    console_tail: tuple[str, ...] = field(default_factory=tuple)
    kernel_at_s: float | None = None  # when the kernel's first line came (BIOS, unpacking)


def find_vng() -> str:
    beside = Path(sys.executable).parent / "vng"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("vng")
    if found:
        return found
    raise EnvironmentProblem(
        "virtme-ng (vng) is not installed. Run scripts/install-vm.sh, or "
        "`pip install 'netcheck[vm]'` and `apt-get install qemu-system-x86 udev`"
    )


def find_qemu() -> str:
    found = shutil.which("qemu-system-x86_64")
    if not found:
        raise EnvironmentProblem(
            "qemu-system-x86_64 is not installed: `apt-get install qemu-system-x86`"
        )
    return found


def choose_accel(accel: str, qemu: str, kernel: KernelImage) -> str:
    if accel not in ("auto", "kvm", "tcg"):
        raise UsageError(f"--accel {accel!r}: expected auto, kvm or tcg")
    if accel == "auto":
        return "kvm" if kvm_usable(qemu, kernel.path) else "tcg"
    return accel


def vng_command(
    vng: str, kernel: KernelImage, accel: str, options: VmOptions, guest_cmd: Sequence[str]
) -> list[str]:
    cmd = [vng, "--run", str(kernel.path), "--force-9p", "--verbose"]
    if accel == "tcg":
        cmd.append("--disable-kvm")
    for arg in KERNEL_APPEND:
        cmd += ["--append", arg]
    cmd += [
        "--memory", options.memory,
        "--cpus", str(options.cpus),
        "--rwdir", str(options.reports),
        "--cwd", str(Path.cwd()),
        # The cached view of the root (see CACHED_TAG); vng hands these to QEMU as they are.
        "--qemu-opts=-fsdev local,id=ncro,path=/,security_model=none,readonly=on,"
        f"multidevs=remap -device virtio-9p-pci,fsdev=ncro,mount_tag={CACHED_TAG}",
        "--exec", shlex.join(guest_cmd),
    ]
    return cmd


def cached_dirs(reports: Path) -> list[str]:
    """The folders the guest's Python reads its code from: the interpreter's, the venv's,
    netcheck's own (for an editable install). None that holds the reports folder: that
    one must stay the live --rwdir share."""
    import netcheck

    found: list[str] = []
    for raw in (sys.base_prefix, sys.prefix, str(Path(netcheck.__file__).resolve().parent)):
        path = Path(raw).resolve()
        if path == Path("/") or reports.is_relative_to(path):
            continue
        if any(path.is_relative_to(Path(d)) for d in found):
            continue
        found = [d for d in found if not Path(d).is_relative_to(path)] + [str(path)]
    return found


def guest_command(manifest: Path, cached: Sequence[str] = ()) -> list[str]:
    """The guest sees the host's root, so the host's interpreter (and venv) is there as is.
    With `cached` folders, a shell first binds them from the cached view (CACHED_TAG); if
    that fails the guest runs from the plain root, only slower."""
    python = [sys.executable, "-m", "netcheck.vm.guest", str(manifest)]
    if not cached:
        return python
    binds = " ".join(shlex.quote(d) for d in cached)
    script = (
        f"{{ mkdir -p {CACHED_MOUNT} && mount -t 9p -o ro,trans=virtio,version=9p2000.L,"
        f"cache=loose,msize=524288 {CACHED_TAG} {CACHED_MOUNT} && "
        f"for d in {binds}; do mount --bind {CACHED_MOUNT}\"$d\" \"$d\"; done; }}; "
        f"exec {shlex.join(python)}"
    )
    return ["/bin/sh", "-c", script]


def precompile() -> None:
    """Byte-compile netcheck on the host: the guest cannot write its __pycache__ (the root
    is read-only there) and would compile every module from source in every process, 15-20x
    slower under TCG. Only missing or stale files are written; failures only cost time."""
    import compileall

    import netcheck

    try:
        compileall.compile_dir(
            str(Path(netcheck.__file__).resolve().parent), quiet=2, workers=1
        )
    except OSError as exc:
        log.debug("precompiling netcheck: %s", exc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the boot we started: its whole process group, by our child's PID."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Pump(threading.Thread):
    """Copies the VM's console to a log file, the caller, and a short tail for messages."""

    def __init__(self, stream: object, log_path: Path, on_line: LineFn | None) -> None:
        super().__init__(name="vm-console", daemon=True)
        self.stream = stream
        self.log_path = log_path
        self.on_line = on_line
        self.tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self.kernel_at: float | None = None  # time.monotonic() of "Linux version"
        self.lockup: str | None = None  # the kernel's report of a CPU stuck for good
        self.stuck = threading.Event()

    def _check_lockup(self, line: str) -> None:
        found = _LOCKUP.search(line)
        if found is not None and int(found["s"]) >= LOCKUP_KILL_S and self.lockup is None:
            self.lockup = (f"CPU#{found['cpu']} stuck for {found['s']} s in "
                           f"{found['task']}")
            self.stuck.set()

    def run(self) -> None:
        assert hasattr(self.stream, "readline")
        with self.log_path.open("w", encoding="utf-8", errors="replace") as out:
            for raw in iter(self.stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if self.kernel_at is None and "Linux version" in line:
                    self.kernel_at = time.monotonic()
                out.write(line + "\n")
                out.flush()
                self.tail.append(line)
                self._check_lockup(line)
                if self.on_line is not None:
                    self.on_line(line)


def _explain(
    results: BatchResults | None, total: int, timed_out: bool, tail: Sequence[str], limit: float,
    lockup: str | None = None,
) -> str:
    panic = next((line for line in tail if "Kernel panic" in line), None)
    if panic is not None:
        return f"the VM kernel panicked: {panic.strip()}"
    if lockup is not None:
        done = 0 if results is None else len(results.results)
        return (
            f"the VM kernel hung (soft lockup: {lockup}) after {done} of {total} scenarios; "
            "killed it (the console log has the stuck CPU's call trace)"
        )
    if results is None:
        if timed_out:
            return (
                f"the VM did not reach userspace within --timeout {limit:g} s "
                "(boot hang, or too slow under TCG); killed it"
            )
        return "the VM stopped before netcheck started inside it (boot failure; see the log)"
    if timed_out:
        return (
            f"the VM ran out of time (--timeout {limit:g} s) after {len(results.results)} of "
            f"{total} scenarios; killed it"
        )
    return f"the VM stopped after {len(results.results)} of {total} scenarios (guest crash?)"


def _wait(proc: subprocess.Popen[bytes], pump: _Pump, deadline: float) -> int | None:
    """The boot's exit code, or None: the deadline passed or the guest kernel hung."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or pump.stuck.is_set():
            return None
        try:
            return proc.wait(timeout=min(remaining, 1.0))
        except subprocess.TimeoutExpired:
            continue


def run_in_vm(options: VmOptions, on_line: LineFn | None = None) -> VmOutcome:
    """Boot once, run every scenario, return the worst exit code. Raises only for bad input
    or a missing tool (EnvironmentProblem/UsageError); a VM that fails gives exit code 3."""
    if not options.scenarios:
        raise UsageError("netcheck vm run: name at least one scenario file")
    if options.timeout_s <= 0:
        raise UsageError(f"--timeout {options.timeout_s:g}: must be more than 0 seconds")
    scenarios = tuple(p.resolve() for p in options.scenarios)
    for path in scenarios:
        if not path.is_file():
            raise UsageError(f"{path}: no such scenario file")
    kernel = find_kernel(options.kernel)
    vng = find_vng()
    qemu = find_qemu()
    reports = options.reports.resolve()
    reports.mkdir(parents=True, exist_ok=True)
    opts = VmOptions(
        scenarios=scenarios, reports=reports, run_args=options.run_args, kernel=options.kernel,
        timeout_s=options.timeout_s, accel=options.accel, memory=options.memory,
        cpus=options.cpus, profile=options.profile, cached_root=options.cached_root,
    )
    manifest = make_manifest(scenarios, reports, options.run_args, profile=options.profile)
    manifest_path = reports / MANIFEST_NAME
    results_path = Path(manifest.results)
    results_path.unlink(missing_ok=True)
    write_manifest(manifest, manifest_path)

    started = time.monotonic()
    accel = choose_accel(options.accel, qemu, kernel)
    precompile()
    cached = cached_dirs(reports) if options.cached_root else []
    cmd = vng_command(vng, kernel, accel, opts, guest_command(manifest_path, cached))
    log.info("booting %s (%s) for %d scenario(s)", kernel.path, accel, len(scenarios))
    log.debug("vng command: %s", shlex.join(cmd))
    env = dict(os.environ)
    # vng runs virtme-run by name: the venv's bin must be on PATH even when not activated.
    env["PATH"] = f"{Path(vng).parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    console_log = reports / CONSOLE_NAME
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, start_new_session=True,
    )
    pump = _Pump(proc.stdout, console_log, on_line)
    pump.start()
    timed_out = False
    vng_exit: int | None = None
    try:
        vng_exit = _wait(proc, pump, started + options.timeout_s)
        if vng_exit is None and pump.lockup is not None:
            log.warning("VM kernel soft lockup (%s): killing the VM", pump.lockup)
        elif vng_exit is None:
            timed_out = True
            log.warning("VM time limit of %g s reached: killing the VM", options.timeout_s)
    finally:
        # Also on KeyboardInterrupt: no QEMU outlives the command that started it.
        if proc.poll() is None:
            _kill_group(proc)
        pump.join(timeout=10)
    elapsed = round(time.monotonic() - started, 2)
    kernel_at = None if pump.kernel_at is None else round(pump.kernel_at - started, 2)
    results = read_results(results_path)
    tail = tuple(pump.tail)
    total = len(scenarios)
    # The host's side of the timeline, beside the guest's results (benchmarks read it).
    with contextlib.suppress(OSError):
        (reports / HOST_TIMING_NAME).write_text(json.dumps(
            {"accel": accel, "elapsed_s": elapsed, "kernel_at_s": kernel_at}) + "\n",
            encoding="utf-8")
    if results is not None and results.finished and not timed_out:
        code = worst_exit_code(r.exit_code for r in results.results)
        message = (
            f"{total} scenario(s) ran in the VM (kernel {results.kernel}, {accel}) "
            f"in {elapsed:g} s; exit {code}"
        )
    else:
        code = EXIT_ENVIRONMENT
        message = _explain(results, total, timed_out, tail, options.timeout_s, pump.lockup)
        message += f". Console log: {console_log}"
    return VmOutcome(
        exit_code=code, message=message, kernel=kernel, accel=accel, elapsed_s=elapsed,
        results=results, console_log=console_log, vng_exit=vng_exit, console_tail=tail,
        kernel_at_s=kernel_at,
    )
