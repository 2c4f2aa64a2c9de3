"""Probe kinds, one module each; every module here with a `KIND` is registered by its word.

Adding a kind is adding a module with `KIND = MyKind()` (a `base.Kind`) and its test: the
scenario loader, the JSON Schema, the engine, the probe workers, the judge and the
diagnosis rules read its word, syntax and traits from the registry. A kind is looked up
with `kind_for(word)`; nothing else switches on the kind.
"""

from __future__ import annotations

import importlib
import pkgutil

from netcheck.probes.kinds.base import (
    Argument,
    BaseKind,
    Counters,
    Kind,
    Syntax,
    UnknownKind,
    added,
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
            register(kind, shipped=True)


_register_shipped()

__all__ = [
    "Argument",
    "BaseKind",
    "Counters",
    "Kind",
    "Syntax",
    "UnknownKind",
    "added",
    "destination",
    "kind_for",
    "register",
    "registered",
    "unregister",
]
