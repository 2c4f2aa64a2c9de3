"""The live host discover reads, as recorded from a real dockerd by
scripts/record-discover-fixture.py (data/host.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netcheck.discover.live import LiveHost
from netcheck.discover.reader import host_from_inspect

DATA = Path(__file__).parent / "data"
URL = "unix:///var/run/docker.sock"


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "host.json").read_text(encoding="utf-8"))
    return data


def read(exclude: tuple[str, ...] = (), **addresses: Any) -> LiveHost:
    raw = recorded()
    return host_from_inspect(url=URL, info=raw["info"], networks=raw["networks"],
                             containers=raw["containers"], exclude=exclude,
                             addresses=addresses or None)


@pytest.fixture
def host() -> LiveHost:
    return read()
