"""A listing of the machine objects netcheck could leave behind, to compare before/after a run.

Each object is an `Item(kind, key, owner)`: `owner` is the run id the object names (namespace
`nc-<id>-<node>`, Docker label `io.netcheck.run`, link alias `netcheck:<id>`, files under
/run/netcheck/<id>, tracefs instance `netcheck-<id>`, a process command line naming one of
those), or None when nothing on it says whose it is.

Other helpers, developers and CI jobs may run netcheck on the same machine at the same time,
so `leaks()` counts an object only when it is new since `before` and does not belong to a
run that is still alive (its state file names a live process). Objects that name no run are
counted too, after a bounded settle (see `settled_leaks`), so a transient object of
someone else's live test is not taken for ours while a real leak, which persists, is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcheck.runtime import state
from netcheck.runtime.naming import parse_netns_name

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
RUN_DIR = Path("/run/netcheck")
DATA_DIR = Path("/var/lib/netcheck")
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
DOCKER_SOCKET = "/var/run/docker.sock"
RUN_LABEL = "io.netcheck.run"

_ID = r"[0-9a-f]{6}"
_ID_IN_TEXT = re.compile(rf"(?:/run/netcheck/|/var/lib/netcheck/|\bnc-|netcheck[-:])({_ID})\b")
# Links Docker's system daemon makes in the root namespace for its own networks; they are
# covered by the Docker network/container listing (a leaked network keeps its bridge).
_DOCKER_LINK = re.compile(r"(docker0|docker_gwbridge|br-[0-9a-f]{12}|veth[0-9a-f]{7})")
_MOUNT_ROOTS = ("/run/netns/", "/run/netcheck", "/var/lib/netcheck", "/tmp/netcheck-")
# Test fixtures name their own namespaces `nctest-*` (and other suites run concurrently):
# those are the tests' objects, not netcheck's, and each fixture removes its own.
_TEST_PREFIX = "nctest-"


@dataclass(frozen=True, slots=True, order=True)
class Item:
    kind: str  # netns | link | docker-network | docker-container | process | mount | tracefs | file
    key: str
    owner: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.key}" + (f" (run {self.owner})" if self.owner else "")


def _owner_in(text: str) -> str | None:
    m = _ID_IN_TEXT.search(text)
    return m.group(1) if m else None


def namespaces() -> set[Item]:
    out: set[Item] = set()
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(NETNS_DIR):
            if name.startswith(_TEST_PREFIX):
                continue
            parsed = parse_netns_name(name)
            out.add(Item("netns", name, parsed[0] if parsed else None))
    return out


def root_links() -> set[Item]:
    """Links of the root namespace (where this process runs), Docker's own bridges aside."""
    from pyroute2 import IPRoute

    out: set[Item] = set()
    with IPRoute() as ipr:
        for link in ipr.get_links():
            name = str(link.get_attr("IFLA_IFNAME"))
            if _DOCKER_LINK.fullmatch(name):
                continue
            alias = str(link.get_attr("IFLA_IFALIAS") or "")
            out.add(Item("link", name, _owner_in(alias) or _owner_in(name)))
    return out


def docker_objects(docker_host: str | None = None) -> set[Item]:
    """Every container and network of the system daemon: labelled, or named like ours."""
    url = docker_host or f"unix://{DOCKER_SOCKET}"
    if url.startswith("unix://") and not os.path.exists(url[len("unix://"):]):
        return set()
    import docker

    out: set[Item] = set()
    try:
        client: Any = docker.DockerClient(base_url=url, version="auto", timeout=10)
    except Exception:
        return set()
    try:
        for c in client.api.containers(all=True):
            name = (c.get("Names") or ["?"])[0].lstrip("/")
            owner = (c.get("Labels") or {}).get(RUN_LABEL)
            if owner or name.startswith("nc-"):
                out.add(Item("docker-container", name, owner))
        for n in client.api.networks():
            owner = (n.get("Labels") or {}).get(RUN_LABEL)
            if owner or n["Name"].startswith("nc-"):
                out.add(Item("docker-network", n["Name"], owner))
    except Exception as exc:  # a daemon restarting under a fault test
        log.info("docker inventory incomplete: %s", exc)
    finally:
        client.close()
    return out


def _cmdline(pid: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _netns_inode(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def processes() -> set[Item]:
    """Lab dockerds and their containerd/shims (their command lines name the run), and
    probe workers/responders: forkserver children sitting in a network namespace other
    than the root's. A worker's owner is the run whose namespace file it is in, if any."""
    root_ino = _netns_inode("self")
    lab_ns: dict[int, str] = {}
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(NETNS_DIR):
            parsed = parse_netns_name(name)
            if parsed is None:
                continue
            with contextlib.suppress(OSError):
                lab_ns[os.stat(NETNS_DIR / name).st_ino] = parsed[0]
    out: set[Item] = set()
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry == me:
            continue
        cmd = _cmdline(entry)
        if not cmd:
            continue
        text = " ".join(cmd)
        owner = _owner_in(text)
        if owner is not None and any(m in text for m in ("/run/netcheck/", "/var/lib/netcheck/")):
            out.add(Item("process", f"{entry} {Path(cmd[0]).name}", owner))
            continue
        if "multiprocessing.forkserver" in text or "multiprocessing.spawn" in text:
            ino = _netns_inode(entry)
            if ino is not None and ino != root_ino:
                out.add(Item("process", f"{entry} python (netns {ino})", lab_ns.get(ino)))
    return out


def mounts() -> set[Item]:
    """Mount points under netcheck's directories, and tracefs mounts, in our mount table."""
    out: set[Item] = set()
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        point = fields[4]
        fstype = line.split(" - ", 1)[1].split()[0] if " - " in line else ""
        if point.startswith(f"/run/netns/{_TEST_PREFIX}"):
            continue
        if point.startswith(_MOUNT_ROOTS) or (
            fstype == "tracefs" and point not in TRACEFS
        ):
            out.add(Item("mount", f"{point} ({fstype})", _owner_in(point)))
    return out


def _tracefs_mounts() -> list[str]:
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    return [f[1] for f in (line.split() for line in lines) if len(f) > 2 and f[2] == "tracefs"]


def tracefs_instances() -> set[Item]:
    """Trace instances. tracefs is one kernel-wide tree: an instance outlives every mount
    of it, so when none is mounted this mounts one on a private directory to look."""
    roots = [*TRACEFS, *_tracefs_mounts()]
    for root in roots:
        inst = Path(root) / "instances"
        if inst.is_dir():
            return {Item("tracefs", e.name, _owner_in(e.name)) for e in inst.iterdir()}
    import ctypes
    import tempfile

    libc = ctypes.CDLL(None, use_errno=True)
    where = tempfile.mkdtemp(prefix="nctest-tracefs-")
    try:
        if libc.mount(b"nodev", where.encode(), b"tracefs", 0, None) != 0:
            return set()
        try:
            inst = Path(where) / "instances"
            return {Item("tracefs", e.name, _owner_in(e.name)) for e in inst.iterdir()}
        finally:
            libc.umount2(where.encode(), 2)
    finally:
        os.rmdir(where)


def files() -> set[Item]:
    """Run state files and per-run directories of lab daemons."""
    out: set[Item] = set()
    for base in (RUN_DIR, DATA_DIR):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in base.iterdir():
                owner = _owner_in(str(entry))
                if owner is not None:
                    out.add(Item("file", str(entry), owner))
    return out


def take(*, docker: bool = True) -> frozenset[Item]:
    items: set[Item] = set()
    for part in (namespaces, root_links, processes, mounts, tracefs_instances, files):
        items |= part()
    if docker:
        items |= docker_objects()
    return frozenset(items)


def _alive(run_id: str) -> bool:
    """Alive and someone else's: a run of this very process is over once the test looks."""
    st = state.read(run_id)
    return st is not None and st.pid != os.getpid() and state.is_alive(st)


def _foreign(owner: str | None) -> bool:
    """The object names a run this test session did not start (the suite journals its runs:
    tests/conftest.py): another developer's or CI job's, never ours to count."""
    if owner is None or not os.environ.get(state.JOURNAL_ENV):
        return False
    return owner not in state.journal_runs()


def leaks(
    before: Collection[Item], after: Iterable[Item], *, ignore_runs: Collection[str] = ()
) -> list[Item]:
    """New objects that no live run owns and that are not another session's runs'.
    `ignore_runs`: runs to leave out (decoys)."""
    old = set(before)
    out = []
    for item in after:
        if item in old or (item.owner is not None and item.owner in ignore_runs):
            continue
        if _foreign(item.owner):
            continue
        if item.owner is not None and _alive(item.owner):
            continue
        out.append(item)
    return sorted(out)


def settled_leaks(
    before: Collection[Item],
    *,
    docker: bool = True,
    within: float = 15.0,
    ignore_runs: Collection[str] = (),
    take_fn: Callable[[], frozenset[Item]] | None = None,
) -> list[Item]:
    """`leaks()` polled until none is left or `within` seconds passed (a bounded settle).

    Objects a finished run still owns must be gone when the run returns; the settle exists
    only for objects of other, concurrent tests (a transient worker, a Docker veth). Every
    settle that was needed is logged with what it waited for.
    """
    deadline = time.monotonic() + within
    take_now = take_fn or (lambda: take(docker=docker))
    found = leaks(before, take_now(), ignore_runs=ignore_runs)
    first = list(found)
    delay = 0.05
    while found and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
        found = leaks(before, take_now(), ignore_runs=ignore_runs)
    if first and not found:
        log.warning("inventory settled after waiting for: %s", ", ".join(map(str, first)))
    return found
