"""Record the kernel's own drop reasons (`skb:kfree_skb`) while the probes run, via tracefs.

No BCC, no compiled tools: a private trace *instance* `instances/netcheck-<runid>` gets the
`skb:kfree_skb` tracepoint (location, protocol, reason) and `net:netif_receive_skb` (device
name, length), so a drop can be tied to the device it came in on through the skb address.
The global trace buffer is never touched. When no tracefs is mounted, one is mounted on a
private directory for the run and unmounted afterwards; the instance is removed at the end
either way, so no tracefs state outlives the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import tempfile
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


class DropRecorder:
    """`start()` before the probes, `stop()` after: the drops seen in between.

    Never raises: on any failure (no tracefs, no permission) it records nothing and says
    why in `problem`.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.problem: str | None = None
        self._root: str | None = None
        self._own_mount: str | None = None
        self._instance: str | None = None

    @property
    def instance(self) -> str | None:
        return self._instance

    def start(self) -> bool:
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
                _write(os.path.join(inst, "buffer_size_kb"), "2048")
            kfree = os.path.join(inst, "events", "skb", "kfree_skb")
            _write(os.path.join(kfree, "filter"), _FILTER)
            _write(os.path.join(kfree, "enable"), "1")
            with contextlib.suppress(OSError):  # device names are a bonus
                _write(os.path.join(inst, "events", "net", "netif_receive_skb", "enable"), "1")
            _write(os.path.join(inst, "tracing_on"), "1")
            return True
        except OSError as exc:
            self.problem = f"tracefs: {exc.strerror or exc} ({getattr(exc, 'filename', '')})"
            log.info("kernel drop reasons not recorded: %s", self.problem)
            self.close()
            return False
        except BaseException:  # Ctrl-C/SIGTERM half way: what was made goes with it
            self.close()
            raise

    def stop(self) -> list[Drop]:
        if self._instance is None:
            return []
        drops: list[Drop] = []
        try:
            _write(os.path.join(self._instance, "tracing_on"), "0")
            with open(os.path.join(self._instance, "trace"), encoding="utf-8",
                      errors="replace") as fh:
                drops = parse(fh.read().splitlines())
        except OSError as exc:
            self.problem = f"tracefs: reading the trace: {exc}"
            log.info("%s", self.problem)
        finally:
            self.close()
        return drops

    def close(self) -> None:
        """Disable the events and remove the instance (and our private mount). Idempotent.

        Signals wait until it is done: an instance or mount dropped from this object but not
        yet removed would outlive the run.
        """
        with signals_blocked():
            inst, self._instance = self._instance, None
            if inst is not None:
                for event in (("skb", "kfree_skb"), ("net", "netif_receive_skb")):
                    with contextlib.suppress(OSError):
                        _write(os.path.join(inst, "events", *event, "enable"), "0")
                try:
                    os.rmdir(inst)
                except OSError as exc:
                    log.warning("could not remove trace instance %s: %s", inst, exc)
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


@contextlib.contextmanager
def recording(run_id: str) -> Iterator[DropRecorder]:
    rec = DropRecorder(run_id)
    try:
        rec.start()
        yield rec
    finally:
        rec.close()
