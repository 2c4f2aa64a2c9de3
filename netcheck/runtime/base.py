"""The runtime contract: build a plan into live namespaces/containers, and tear it down."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from netcheck.model.plan import Plan
from netcheck.model.results import Topology


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeOptions:
    run_id: str
    docker_host: str | None = None
    allow_uplink: bool = False  # let a parent carry the machine's default route (real hosts)
    image: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    topology: Topology
    # Nodes that were not built, with the reason (e.g. "kernel lacks ipvlan"). Expectations
    # that touch them are skipped with that reason rather than failed. A key may also be an
    # expectation id: that one check is skipped (a routing-mesh port on a kernel without IPVS).
    unavailable: Mapping[str, str] = field(default_factory=dict)


ProgressFn = Callable[[str], None]


class Runtime(Protocol):
    """Builds a Plan. `teardown` must be safe to call after a partial or failed build, twice."""

    name: str

    def build(self, plan: Plan, progress: ProgressFn) -> BuildResult: ...

    def teardown(self) -> None: ...


RuntimeFactory = Callable[[RuntimeOptions], Runtime]

_REGISTRY: dict[str, RuntimeFactory] = {}


def register(name: str, factory: RuntimeFactory) -> None:
    _REGISTRY[name] = factory


def registered() -> Mapping[str, RuntimeFactory]:
    return dict(_REGISTRY)
