"""A minimal local container image, built offline (no registry) from Debian's busybox-static."""

from __future__ import annotations

from netcheck.image.build import DEFAULT_IMAGE, ImageBuildError, build_image, ensure_image

__all__ = ["DEFAULT_IMAGE", "ImageBuildError", "build_image", "ensure_image"]
