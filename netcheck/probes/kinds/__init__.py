"""Probe kinds, one module each; every module here with a `KIND` is registered by its word.

Adding a kind is adding a module with `KIND = MyKind()` (a `base.Kind`) and its test. A
kind is looked up with `kind_for(word)`; nothing else switches on the kind.
"""

from __future__ import annotations

import importlib
import pkgutil

from netcheck.probes.kinds.base import (
    BaseKind,
    Kind,
    UnknownKind,
    destination,
    kind_for,
    register,
    registered,
    unregister,
)


def _register_shipped() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if kind is not None:
            register(kind)


_register_shipped()

__all__ = [
    "BaseKind",
    "Kind",
    "UnknownKind",
    "destination",
    "kind_for",
    "register",
    "registered",
    "unregister",
]
