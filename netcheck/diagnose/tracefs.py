"""Record the kernel's own drop reasons (`skb:kfree_skb`) while the probes run, via tracefs.

No BCC, no compiled tools: a private trace *instance* `instances/netcheck-<runid>` gets the
`skb:kfree_skb` tracepoint (location, protocol, reason) and `net:netif_receive_skb` (device
name, length), so a drop can be tied to the device it came in on through the skb address.
One instance per run, its events switched on once: the probe phase and each re-send of the
diagnosis are windows of it (`tracing_on`, the buffer emptied in between), and kernel-side
filters keep out what no reader of that window uses (see `Window`). The global trace
buffer is never touched. When no tracefs is mounted, one is mounted on a private directory
for the run and unmounted afterwards; the instance is removed at the end either way, so
no tracefs state outlives the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from netcheck.runtime.naming import TRACE_PREFIX, trace_instance
from netcheck.sigmask import signals_blocked

log = logging.getLogger(__name__)

CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
ETH_P = {2048: "IPv4", 2054: "ARP", 34525: "IPv6"}
# IPv4, ARP, IPv6: the only protocols probes send.
_FILTER = "protocol == 2048 || protocol == 2054 || protocol == 34525"
_LINE = re.compile(r"\s(?P<ts>\d+\.\d+): (?P<event>kfree_skb|netif_receive_skb): (?P<rest>.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)")
_REASON = re.compile(r"reason: (\w+)")
MAX_DROPS = 5000
MNT_DETACH = 2
# Private mounts are `<tmp>/netcheck-<runid>-tracefs-*`; instances are `netcheck-<runid>`.

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """One packet the kernel freed with a drop reason."""

    time: float  # CLOCK_MONOTONIC seconds (the instance uses the 'mono' trace clock)
    reason: str  # IP_RPFILTER, NETFILTER_DROP, NEIGH_FAILED, ...
    location: str  # the kernel function, e.g. ip_rcv_finish_core+0x1e3/0x4a0
    protocol: str  # IPv4 / ARP / IPv6
    dev: str | None = None  # the device the packet came in on, when it was received
    length: int | None = None

    @property
    def function(self) -> str:
        return self.location.split("+", 1)[0]

    def __str__(self) -> str:
        on = f" received on {self.dev}" if self.dev else ""
        return f"{self.protocol} packet{on} dropped: {self.reason} in {self.function}"


def _skb(line: str) -> str:
    """The skbaddr field of a trace line, as `_FIELD` reads it ("" if none)."""
    start = line.find("skbaddr=")
    if start < 0:
        return ""
    start += len("skbaddr=")
    end = len(line)
    for sep in (" ", "\t"):
        found = line.find(sep, start)
        if 0 <= found < end:
            end = found
    return line[start:end]


def parse(lines: Sequence[str]) -> list[Drop]:
    """Drops from `trace` text; each tied to the latest receive of the same skb before it."""
    received: dict[str, tuple[str, int | None]] = {}
    drops: list[Drop] = []
    # A big mesh fills the buffer with receives (100,000 lines: 0.5 s of regex); only those
    # of a dropped skb can name a drop's device, so the rest are skipped unparsed.
    dropped = {_skb(line) for line in lines if "kfree_skb:" in line}
    for line in lines:
        if "netif_receive_skb:" in line and _skb(line) not in dropped:
            continue
        m = _LINE.search(line)
        if m is None:
            continue
        fields = dict(_FIELD.findall(m["rest"]))
        skb = fields.get("skbaddr", "")
        if m["event"] == "netif_receive_skb":
            length = fields.get("len")
            received[skb] = (fields.get("dev", "?"), int(length) if length else None)
            continue
        reason = _REASON.search(m["rest"])
        if reason is None:
            continue
        try:
            proto = ETH_P.get(int(fields.get("protocol", "0")), fields.get("protocol", "?"))
        except ValueError:
            proto = fields.get("protocol", "?")
        dev, length = received.pop(skb, (None, None))
        drops.append(
            Drop(
                time=float(m["ts"]),
                reason=reason.group(1),
                location=fields.get("location", "?"),
                protocol=str(proto),
                dev=dev,
                length=length,
            )
        )
        if len(drops) >= MAX_DROPS:
            break
    return drops


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


def _overrun(instance: str) -> int:
    """Events the ring buffer overwrote since it was last emptied (all CPUs)."""
    lost = 0
    per_cpu = os.path.join(instance, "per_cpu")
    for cpu in os.listdir(per_cpu):
        with contextlib.suppress(OSError), open(os.path.join(per_cpu, cpu, "stats"),
                                                encoding="ascii") as fh:
            for line in fh:
                if line.startswith("overrun:"):
                    lost += int(line.split()[1])
    return lost


def _mounted_tracefs() -> str | None:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                # Another run's private mount goes away (lazily) when that run ends, and
                # an instance reached through it could then be neither read nor removed.
                if (len(parts) > 2 and parts[2] == "tracefs"
                        and not os.path.basename(parts[1]).startswith(TRACE_PREFIX)):
                    return parts[1]
    except OSError:
        return None
    return None


class Window(enum.Enum):
    """What a recording window keeps (the kernel-side filters of its events)."""

    # The probe phase: its drops, with the device of an IP packet's. ARP frames (28 bytes
    # on Ethernet) are not recorded as received: a mesh delivers each ARP request to every
    # namespace of its segment, and no rule reads the device of an ARP drop in this window.
    # The one IP packet netcheck sends that is as short, `icmp/df/0`'s, loses its drop's
    # device here too (the event has no protocol field to tell them apart). Nor are two
    # frees that are never a probe's death recorded: the echo replies ping_rcv frees for
    # want of a ping socket (netcheck reads them on raw sockets; one per answered icmp
    # probe) and ip6_mc_input's IPv6 multicast (each namespace's link-up MLD and router
    # solicitations, delivered to all of a segment): at N=100 they filled MAX_DROPS.
    PROBES = "probes"
    # A re-send: one probe alone, everything kept (the path walk ties ARP drops too).
    RESEND = "resend"


_KFREE = "skb/kfree_skb"
_RECEIVE = "net/netif_receive_skb"
_FILTERS = {
    Window.PROBES: {_KFREE: f"({_FILTER}) && location.function != ping_rcv"
                            " && location.function != ip6_mc_input",
                    _RECEIVE: "len != 28"},
    Window.RESEND: {_KFREE: _FILTER, _RECEIVE: "0"},  # "0" clears a filter
}
# When the kernel cannot filter on a function (`.function`: Linux 6.3), the noise stays.
_FALLBACK = {_KFREE: _FILTER}
BUFFER_KB = 2048  # per CPU; the probe phase of a big run asks for more (buffer_kb)
MAX_BUFFER_KB = 65536


class DropRecorder:
    """The run's trace instance: made once, its events switched on once, and only
    `tracing_on` toggled between recording windows (`begin()` ... `end()`).

    Switching a trace event on or off patches kernel text; a 2-CPU TCG guest deadlocked in
    text_poke_bp when each re-send did it. `close()` removes the instance. Never raises:
    on any failure (no tracefs, no permission) it records nothing and says why in
    `problem`. `start()`/`stop()`: one window, then close (a recorder used once).
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.problem: str | None = None
        self._root: str | None = None
        self._own_mount: str | None = None
        self._instance: str | None = None
        self._filters: dict[str, str] = {}
        self._failed = False
        # The run's recorder is opened by the probe window on the prelude thread while the
        # main thread may be unwinding from a signal and closing it: the two never overlap,
        # and once closed it never opens again (an instance made then would outlive the run).
        self._lock = threading.RLock()
        self._closed = False

    @property
    def instance(self) -> str | None:
        return self._instance

    def open(self, *, buffer_kb: int = BUFFER_KB) -> bool:
        """Make the instance and switch its events on (tracing stays off). False once
        closed."""
        with self._lock:
            if self._closed:
                return False
            return self._open(buffer_kb)

    def _open(self, buffer_kb: int) -> bool:
        if self._instance is not None or self._failed:
            return not self._failed
        try:
            self._root = self._find_or_mount()
            inst = os.path.join(self._root, "instances", trace_instance(self.run_id))
            with signals_blocked():  # made and remembered (so close() removes it), or neither
                os.mkdir(inst)
                self._instance = inst
            _write(os.path.join(inst, "tracing_on"), "0")
            with contextlib.suppress(OSError):
                _write(os.path.join(inst, "trace_clock"), "mono")
            with contextlib.suppress(OSError):
                _write(os.path.join(inst, "buffer_size_kb"),
                       str(min(max(buffer_kb, BUFFER_KB), MAX_BUFFER_KB)))
            self._filter(Window.PROBES)
            _write(os.path.join(inst, "events", _KFREE, "enable"), "1")
            with contextlib.suppress(OSError):  # device names are a bonus
                _write(os.path.join(inst, "events", _RECEIVE, "enable"), "1")
            return True
        except OSError as exc:
            self._fail(f"tracefs: {exc.strerror or exc} ({getattr(exc, 'filename', '')})")
            return False
        except BaseException:  # Ctrl-C/SIGTERM half way: what was made goes with it
            self.close()
            raise

    def begin(self, window: Window = Window.PROBES) -> bool:
        """Empty the buffer and record (opening the instance on first use)."""
        with self._lock:
            return self._begin(window)

    def _begin(self, window: Window) -> bool:
        if not self.open():
            return False
        assert self._instance is not None
        self.problem = None  # the last window's; a failure to open stays (see _fail)
        try:
            self._filter(window)
            # An empty buffer: each window's drops are its own, never an earlier one's.
            _write(os.path.join(self._instance, "trace"), "")
            _write(os.path.join(self._instance, "tracing_on"), "1")
            return True
        except OSError as exc:
            self._fail(f"tracefs: {exc.strerror or exc} ({getattr(exc, 'filename', '')})")
            return False

    def end(self) -> list[Drop]:
        """Stop recording and read the drops since `begin()`."""
        with self._lock:
            return self._end()

    def _end(self) -> list[Drop]:
        if self._instance is None:
            return []
        try:
            _write(os.path.join(self._instance, "tracing_on"), "0")
            lost = _overrun(self._instance)
            if lost:
                self.problem = (f"tracefs: the trace buffer overflowed ({lost} events "
                                "overwritten): the earliest drops are missing")
                log.info("%s", self.problem)
            with open(os.path.join(self._instance, "trace"), encoding="utf-8",
                      errors="replace") as fh:
                return parse(fh.read().splitlines())
        except OSError as exc:
            self.problem = f"tracefs: reading the trace: {exc}"
            log.info("%s", self.problem)
            return []

    def start(self) -> bool:
        return self.begin()

    def stop(self) -> list[Drop]:
        try:
            return self.end()
        finally:
            self.close()

    def _filter(self, window: Window) -> None:
        """Set the events' filters for `window`, writing only those that change (a filter
        is swapped under RCU: no kernel text is patched)."""
        assert self._instance is not None
        for event, text in _FILTERS[window].items():
            if self._filters.get(event) == text:
                continue
            path = os.path.join(self._instance, "events", event, "filter")
            try:
                _write(path, text)
            except OSError:
                if event == _RECEIVE:  # device names are a bonus: unfiltered, as before
                    log.debug("no filter on %s: %s", event, text)
                elif event in _FALLBACK:
                    _write(path, _FALLBACK[event])
                else:
                    raise
            self._filters[event] = text

    def _fail(self, problem: str) -> None:
        self.problem = problem
        self._failed = True
        log.info("kernel drop reasons not recorded: %s", problem)
        self.close()

    def close(self) -> None:
        """Disable the events and remove the instance (and our private mount). Idempotent.

        Signals wait until it is done: an instance or mount dropped from this object but not
        yet removed would outlive the run.
        """
        with signals_blocked(), self._lock:
            self._closed = True
            inst, self._instance = self._instance, None
            if inst is not None:
                with contextlib.suppress(OSError):
                    _write(os.path.join(inst, "tracing_on"), "0")
                for event in (_KFREE, _RECEIVE):
                    with contextlib.suppress(OSError):
                        _write(os.path.join(inst, "events", event, "enable"), "0")
                _remove_instance(inst)
            mount, self._own_mount = self._own_mount, None
            if mount is not None:
                if _libc.umount2(mount.encode(), MNT_DETACH) != 0:
                    log.warning("could not unmount %s: %s", mount,
                                os.strerror(ctypes.get_errno()))
                with contextlib.suppress(OSError):
                    os.rmdir(mount)

    def _find_or_mount(self) -> str:
        for path in CANDIDATES:
            if os.path.isdir(os.path.join(path, "instances")):
                return path
        mounted = _mounted_tracefs()
        if mounted and os.path.isdir(os.path.join(mounted, "instances")):
            return mounted
        # A private mount point: the machine's own /sys/kernel/tracing stays as it was.
        with signals_blocked():  # mounted and remembered, or neither
            where = tempfile.mkdtemp(prefix=f"{TRACE_PREFIX}{self.run_id}-tracefs-")
            if _libc.mount(b"nodev", where.encode(), b"tracefs", 0, None) != 0:
                err = ctypes.get_errno()
                os.rmdir(where)
                raise OSError(err, f"mount tracefs: {os.strerror(err)}", where)
            self._own_mount = where
        return where


# An instance is busy while any of its files is open anywhere (EBUSY): a write of
# another thread or a child forked meanwhile holds one for a moment.
_RMDIR_TRIES = 60
_RMDIR_WAIT_S = 0.05


def _remove_instance(inst: str) -> None:
    for attempt in range(_RMDIR_TRIES):
        try:
            os.rmdir(inst)
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or attempt == _RMDIR_TRIES - 1:
                log.warning("could not remove trace instance %s: %s", inst, exc)
                return
            time.sleep(_RMDIR_WAIT_S)


@contextlib.contextmanager
def recording(run_id: str) -> Iterator[DropRecorder]:
    """The run's recorder, its instance removed on the way out (made by its first window)."""
    rec = DropRecorder(run_id)
    try:
        yield rec
    finally:
        rec.close()
