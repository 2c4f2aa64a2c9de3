"""`netcheck/probe:<digest>`: this machine's Python, scapy, pyroute2 and netcheck, as an image.

A remote Docker host has no netcheck and there is no registry, so the probe image is made
here from what already runs netcheck: the interpreter binary and the shared libraries it
and its extension modules load (found with ldd), the standard library (without tests,
IDLE, tkinter), the venv's scapy and pyroute2 and this netcheck package. The rootfs is
imported with `docker import` through the API, so it works over tcp:// and ssh:// alike.
Same machine architecture and libc ABI on both ends are assumed (x86-64 glibc is the
norm); the image holds its own copy of the libraries, so the remote host's versions do not
matter. The tag is a digest of the contents: a changed netcheck builds a new image.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from netcheck.errors import EnvironmentProblem
from netcheck.image.build import CACHE_DIR

log = logging.getLogger(__name__)

REPOSITORY = "netcheck/probe"
SITE = "/opt/netcheck/lib"  # PYTHONPATH inside the image
PACKAGES = ("netcheck", "scapy", "pyroute2")
# Not `unittest`: pyroute2's iprsocket imports unittest.mock at import time.
_SKIP_STDLIB = frozenset(
    {"test", "site-packages", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip",
     "pydoc_data"}
)
_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")
_lock = threading.Lock()


class ProbeImageError(EnvironmentProblem):
    pass


def _python_files() -> Iterator[tuple[Path, str]]:
    """(file on this machine, path in the image) for the interpreter's own tree."""
    # At its own path: the interpreter finds its prefix (and an RPATH its libpython) there.
    exe = Path(os.path.realpath(sys.executable))
    yield exe, str(exe).lstrip("/")
    stdlib = Path(sysconfig.get_path("stdlib"))
    for root, dirs, files in os.walk(stdlib):
        here = Path(root)
        rel = here.relative_to(stdlib)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in _SKIP_STDLIB and not d.startswith("config-")]
        for name in files:
            if ".opt-" in name:  # optimised .pyc: the image runs without -O
                continue
            yield here / name, str(Path(stdlib).relative_to("/") / rel / name)


def _package_files() -> Iterator[tuple[Path, str]]:
    for pkg in PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise ProbeImageError(f"cannot build the probe image: package {pkg} is not installed")
        top = Path(next(iter(spec.submodule_search_locations)))
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d != "__pycache__" or pkg != "netcheck"]
            for name in files:
                path = Path(root) / name
                yield path, f"{SITE.lstrip('/')}/{pkg}/{path.relative_to(top)}"


def shared_libraries(binaries: Iterable[Path]) -> set[Path]:
    """Every library `ldd` says these binaries load (the dynamic loader included)."""
    out: set[Path] = set()
    for binary in binaries:
        try:
            proc = subprocess.run(
                ["ldd", str(binary)], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProbeImageError(f"cannot run ldd on {binary}: {exc}") from exc
        for line in proc.stdout.splitlines():
            m = _LDD_LINE.search(line)
            if m:
                out.add(Path(m.group(1)))
    return out


def _contents() -> list[tuple[Path, str]]:
    files = list(_python_files()) + list(_package_files())
    binaries = [f for f, _ in files if f.suffix == ".so" or ".so." in f.name]
    binaries.append(Path(os.path.realpath(sys.executable)))
    for lib in sorted(shared_libraries(binaries)):
        files.append((lib, str(lib).lstrip("/")))
    return files


def digest(files: list[tuple[Path, str]]) -> str:
    h = hashlib.sha256(sys.version.encode())
    for src, dst in sorted(files, key=lambda f: f[1]):
        if dst.startswith(f"{SITE.lstrip('/')}/netcheck/"):
            h.update(dst.encode() + b"\0" + src.read_bytes())  # our code: by content
        else:
            st = src.stat()
            h.update(f"{dst}\0{st.st_size}\0{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def make_rootfs(files: list[tuple[Path, str]], dest: Path) -> Path:
    # Per process and thread: two runs building the same tarball must not share a temp file.
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    seen: set[str] = set()
    with tarfile.open(tmp, "w") as tar:
        for d in ("tmp", "proc", "sys", "dev", "etc"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        for src, dst in files:
            if dst in seen:
                continue
            seen.add(dst)
            # Follow symlinks (libc.so.6 -> libc-2.36.so): the image holds real files.
            info = tar.gettarinfo(str(Path(os.path.realpath(src))), arcname=dst)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(os.path.realpath(src), "rb") as fh:
                tar.addfile(info, fh)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    tmp.replace(dest)
    return dest


def image_ref(files: list[tuple[Path, str]] | None = None) -> str:
    return f"{REPOSITORY}:{digest(files if files is not None else _contents())}"


def ensure_probe_image(client: Any, cache_dir: Path | None = None) -> str:
    """The probe image on the daemon behind `client`, imported first when it is absent."""
    import docker.errors

    files = _contents()
    ref = image_ref(files)
    with _lock:
        try:
            client.images.get(ref)
            return ref
        except docker.errors.ImageNotFound:
            pass
        cache = cache_dir or CACHE_DIR
        cache.mkdir(parents=True, exist_ok=True)
        tarball = cache / f"probe-{ref.rpartition(':')[2]}.tar"
        if not tarball.is_file():
            log.info("building the probe rootfs %s", tarball)
            make_rootfs(files, tarball)
        repository, _, tag = ref.rpartition(":")
        log.info("importing %s as %s", tarball, ref)
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=tag,
            changes=[
                f"ENV PYTHONPATH={SITE}",
                "ENV PYTHONDONTWRITEBYTECODE=1",
                f'ENTRYPOINT ["{os.path.realpath(sys.executable)}", "-m", '
                '"netcheck.runtime.docker.agent"]',
            ],
        )
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound as exc:
            raise ProbeImageError(f"docker import of {tarball} did not produce {ref}") from exc
        return ref
