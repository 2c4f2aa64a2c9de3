"""Shared fixtures: root checks and a view of the machine's netcheck namespaces."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import dead_run_namespaces, netcheck_namespaces


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fail the test if it leaves any netcheck namespace behind."""
    before = netcheck_namespaces()
    yield
    left = dead_run_namespaces(netcheck_namespaces() - before)
    assert not left, f"leftover namespaces: {sorted(left)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: builds namespaces and sends raw packets")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)
