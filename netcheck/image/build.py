"""Build `netcheck/busybox:latest` from Debian's busybox-static with `docker import`.

There is no registry here, so nothing can be pulled. The rootfs is one static busybox binary
plus applet symlinks; probes never run inside the image (they enter its network namespace
from the host), so the image only has to keep a process alive and offer a shell for debugging.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

from netcheck.errors import EnvironmentProblem

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "netcheck/busybox:latest"
CACHE_DIR = Path(os.environ.get("NETCHECK_CACHE_DIR", "/var/cache/netcheck"))
ROOTFS_NAME = "busybox-rootfs.tar"

# Applets linked when `busybox --list` cannot be run (it always can on x86-64 Linux, the
# binary being static; this keeps the image usable if it ever cannot).
_FALLBACK_APPLETS = (
    "sh",
    "ash",
    "sleep",
    "cat",
    "ls",
    "echo",
    "ip",
    "ifconfig",
    "ping",
    "ping6",
    "nslookup",
    "nc",
    "wget",
    "hostname",
    "ps",
    "kill",
    "true",
    "false",
    "mkdir",
    "rm",
    "env",
    "arp",
    "route",
    "traceroute",
    "udhcpc",
    "vi",
    "grep",
    "sed",
    "awk",
    "head",
    "tail",
)

_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}

# Several threads may build on demand at once (parallel container creation); build once.
_lock = threading.Lock()


class ImageBuildError(EnvironmentProblem):
    """The default image is absent and could not be built here."""


def _run(args: list[str], cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise ImageBuildError(f"cannot build the image: {args[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        msg = (exc.stderr or exc.stdout or "").strip().splitlines()
        last = msg[-1] if msg else f"exit {exc.returncode}"
        raise ImageBuildError(f"cannot build the image: {' '.join(args)}: {last}") from exc
    return out.stdout


def _applets(busybox: Path) -> list[str]:
    try:
        listed = subprocess.run(
            [str(busybox), "--list"], check=True, capture_output=True, text=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        log.debug("busybox --list failed; using the fallback applet list", exc_info=True)
        return list(_FALLBACK_APPLETS)
    return [a for a in listed if a and "/" not in a and a != "busybox"]


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def make_rootfs(busybox: Path, dest: Path) -> Path:
    """Write a rootfs tarball with `busybox` as /bin/busybox and one symlink per applet."""
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as tar:
        for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "var", "run"):
            _add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        _add_file(tar, "bin/busybox", busybox.read_bytes(), 0o755)
        for applet in sorted(set(_applets(busybox))):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for name, text in _ETC.items():
            _add_file(tar, name, text.encode())
    tmp.replace(dest)  # atomic: a killed build never leaves a half tarball in the cache
    return dest


def rootfs_tarball(cache_dir: Path | None = None) -> Path:
    """The cached rootfs tarball, downloading busybox-static with apt-get when absent."""
    cache = cache_dir or CACHE_DIR
    dest = cache / ROOTFS_NAME
    if dest.is_file():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netcheck-image-") as tmpdir:
        work = Path(tmpdir)
        # apt-get download runs as the _apt user when it can; a 0700 temp dir stops it.
        work.chmod(0o755)
        debs = sorted(cache.glob("busybox-static_*.deb"))
        if not debs:
            log.info("downloading busybox-static with apt-get")
            _run(["apt-get", "download", "-q", "busybox-static"], cwd=work)
            fetched = sorted(work.glob("busybox-static_*.deb"))
            if not fetched:
                raise ImageBuildError("apt-get download busybox-static produced no .deb")
            debs = [cache / fetched[-1].name]
            fetched[-1].replace(debs[0])
        root = work / "x"
        _run(["dpkg-deb", "-x", str(debs[-1]), str(root)])
        busybox = root / "bin" / "busybox"
        if not busybox.is_file():
            raise ImageBuildError(f"{debs[-1].name} holds no bin/busybox")
        return make_rootfs(busybox, dest)


def _has_image(client: Any, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_image(client: Any, ref: str = DEFAULT_IMAGE, cache_dir: Path | None = None) -> str:
    """Import the busybox rootfs as `ref` (always re-imports). Returns the image reference."""
    repository, _, tag = ref.rpartition(":")
    if not repository or "/" in tag:
        repository, tag = ref, "latest"
    tarball = rootfs_tarball(cache_dir)
    log.info("importing %s as %s", tarball, ref)
    client.api.import_image_from_file(
        str(tarball), repository=repository, tag=tag, changes=['CMD ["/bin/sh"]']
    )
    if not _has_image(client, ref):
        raise ImageBuildError(f"docker import of {tarball} did not produce {ref}")
    return ref


def ensure_image(client: Any, ref: str = DEFAULT_IMAGE, cache_dir: Path | None = None) -> str:
    """Return `ref`, building it first when it is the default image and absent."""
    if _has_image(client, ref):
        return ref
    if ref != DEFAULT_IMAGE:
        raise ImageBuildError(
            f"image {ref!r} is not on the daemon and there is no registry to pull it from; "
            f"load it with `docker load`, or use the default {DEFAULT_IMAGE}"
        )
    with _lock:
        if _has_image(client, ref):
            return ref
        return build_image(client, ref, cache_dir)
