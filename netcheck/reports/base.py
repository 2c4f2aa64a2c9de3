"""The reporter contract: a finished RunRecord in, a file (or the console) out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from netcheck.model.results import RunRecord


class Reporter(Protocol):
    name: str

    def write(self, record: RunRecord, path: Path) -> None: ...


_REGISTRY: dict[str, Callable[[], Reporter]] = {}


def register(name: str, factory: Callable[[], Reporter]) -> None:
    _REGISTRY[name] = factory


def registered() -> Mapping[str, Callable[[], Reporter]]:
    return dict(_REGISTRY)
