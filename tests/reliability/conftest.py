"""Fixtures of the reliability suite: an inventory of the machine taken around each test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.reliability import inventory
from tests.reliability.inventory import Item

log = logging.getLogger(__name__)


@pytest.fixture
def clean_machine(request: pytest.FixtureRequest) -> Iterator[frozenset[Item]]:
    """Fail the test if any object netcheck could leave is new after it (and no live run's).

    Docker objects are listed only when the test uses the `dockerd` fixture (asking a daemon
    that is not running would only slow every test down)."""
    docker = "dockerd" in request.fixturenames
    before = inventory.take(docker=docker)
    yield before
    left = inventory.settled_leaks(before, docker=docker)
    assert not left, "leftovers:\n  " + "\n  ".join(map(str, left))
