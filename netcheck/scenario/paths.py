"""Field paths inside a scenario (`networks.pub_net.subnets[0].gateway`) and their lines."""

from __future__ import annotations

import re
from collections.abc import Mapping

Path = tuple[str | int, ...]
LineMap = Mapping[Path, int]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_path(path: Path) -> str:
    out = ""
    for comp in path:
        if isinstance(comp, int):
            out += f"[{comp}]"
        elif _PLAIN_KEY.match(comp):
            out += f".{comp}" if out else comp
        else:
            # Keys like com.docker.network.driver.mtu would read as nested fields.
            out += f'["{comp}"]'
    return out


def line_of(lines: LineMap, path: Path) -> int:
    """The line of `path`, or of its nearest enclosing element we know (0 if none)."""
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line:
            return line
    return 0
