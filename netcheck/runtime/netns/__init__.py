"""The netns runtime (the embedded default): a whole lab in network namespaces."""

from __future__ import annotations

from netcheck.runtime.base import register
from netcheck.runtime.netns.runtime import NetnsRuntime

register("netns", NetnsRuntime)

__all__ = ["NetnsRuntime"]
