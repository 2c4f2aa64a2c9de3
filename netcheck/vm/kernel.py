"""Find a bootable distribution kernel: --kernel, then /boot, then netcheck's kernel cache.

The cache is filled by scripts/install-vm.sh (`apt-get download` + `dpkg -x` of Debian's
generic kernel), so the host's own /boot and boot loader are never touched. It sits under
/var/lib, not /var/cache: virtme-ng mounts a tmpfs over /var/cache in the guest, which would
hide the kernel's modules from the guest's modprobe.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netcheck.errors import EnvironmentProblem

CACHE_ENV = "NETCHECK_KERNEL_DIR"
DEFAULT_CACHE = Path("/var/lib/netcheck/kernel")
BOOT = Path("/boot")

# The Linux x86 boot protocol: "HdrS" at 0x202 in every bzImage.
_BZIMAGE_MAGIC_OFFSET = 0x202
_BZIMAGE_MAGIC = b"HdrS"

HOW_TO_GET = (
    "Run scripts/install-vm.sh, or by hand: `apt-get download linux-image-<ver>-amd64 && "
    f"dpkg -x linux-image-*.deb {DEFAULT_CACHE}` (the generic flavour: the cloud one lacks 9p)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelImage:
    path: Path
    release: str  # from the file name (vmlinuz-<release>), "" when it does not say
    modules: Path | None  # lib/modules/<release> beside the image, when present


def is_bzimage(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            f.seek(_BZIMAGE_MAGIC_OFFSET)
            return f.read(len(_BZIMAGE_MAGIC)) == _BZIMAGE_MAGIC
    except OSError:
        return False


def _version_key(path: Path) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.-]", path.name))


def _release(image: Path) -> str:
    name = image.name
    return name.split("-", 1)[1] if name.startswith("vmlinuz-") else ""


def _modules_for(image: Path, release: str) -> Path | None:
    if not release:
        return None
    root = image.parent.parent if image.parent.name == "boot" else image.parent
    for candidate in (root / "lib/modules" / release, root / "usr/lib/modules" / release):
        if candidate.is_dir():
            return candidate
    return None


def _lacks_9p(image: Path, release: str) -> bool:
    """A kernel whose config says it has no 9p cannot mount vng's root (Debian's cloud one)."""
    config = image.parent / f"config-{release}"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "CONFIG_NET_9P=y" not in text and "CONFIG_NET_9P=m" not in text


def _image(path: Path) -> KernelImage:
    release = _release(path)
    return KernelImage(path=path, release=release, modules=_modules_for(path, release))


def _candidates(directory: Path) -> list[Path]:
    found: list[Path] = []
    for sub in (directory / "boot", directory):
        if sub.is_dir():
            found += [p for p in sub.glob("vmlinuz-*") if p.is_file()]
    return sorted(found, key=_version_key, reverse=True)


def cache_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(CACHE_ENV):
        dirs.append(Path(os.environ[CACHE_ENV]))
    dirs.append(DEFAULT_CACHE)
    return dirs


def find_kernel(explicit: str | None = None, search: Sequence[Path] | None = None) -> KernelImage:
    """The kernel to boot, or EnvironmentProblem (exit 3) saying where it looked."""
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            images = [p for p in _candidates(path) if is_bzimage(p)]
            if not images:
                raise EnvironmentProblem(
                    f"--kernel {explicit}: no vmlinuz-* kernel image in this folder. {HOW_TO_GET}"
                )
            return _image(images[0])
        if not path.exists():
            raise EnvironmentProblem(f"--kernel {explicit}: no such file. {HOW_TO_GET}")
        if not is_bzimage(path):
            raise EnvironmentProblem(
                f"--kernel {explicit}: not a bootable x86 kernel image (no bzImage header)"
            )
        return _image(path)
    places = list(search) if search is not None else [BOOT, *cache_dirs()]
    for place in places:
        for image in _candidates(place):
            if is_bzimage(image) and not _lacks_9p(image, _release(image)):
                return _image(image)
    where = ", ".join(str(p) for p in places)
    raise EnvironmentProblem(f"no kernel image found (looked in {where}). {HOW_TO_GET}")
