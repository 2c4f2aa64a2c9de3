"""What resolving a scenario shares with expanding its expectations: where errors go, and
what is known of each node. Its own module so that resolve and expand, which uses these,
do not import each other."""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.errors import Location, ScenarioError, ScenarioWarning
from netcheck.model.plan import NodeKind
from netcheck.scenario.paths import LineMap, Path, format_path, line_of


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    kind: NodeKind
    path: Path
    vias: tuple[str, ...]  # networks/LANs a target may be pinned to with node@via
    any_via: bool = False  # an existing container: its networks are read at build time


class Context:
    """Where errors go and how paths become locations."""

    def __init__(self, source: str, lines: LineMap) -> None:
        self.source = source
        self.lines = lines
        self.errors: list[ScenarioError] = []
        self.warnings: list[ScenarioWarning] = []

    def line(self, path: Path) -> int:
        return line_of(self.lines, path)

    def location(self, path: Path) -> Location:
        return Location(path=self.source, line=self.line(path))

    def error(self, path: Path, message: str, hint: str | None = None) -> None:
        self.errors.append(ScenarioError(self.location(path), format_path(path), message, hint))

    def warn(self, path: Path, message: str, hint: str | None = None) -> None:
        self.warnings.append(
            ScenarioWarning(self.location(path), format_path(path), message, hint))
