from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from netcheck.errors import ScenarioErrors
from netcheck.model.plan import Plan
from netcheck.scenario import load_plan

Load = Callable[..., Plan]
Fail = Callable[..., ScenarioErrors]


@pytest.fixture
def load(tmp_path: Path) -> Load:
    """Write dedented YAML to a file and load it."""

    def _load(text: str, overrides: Mapping[str, str] | None = None) -> Plan:
        path = tmp_path / "s.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return load_plan(path, overrides)

    return _load


@pytest.fixture
def fail(load: Load) -> Fail:
    """Load YAML that must be rejected; return the ScenarioErrors."""

    def _fail(text: str, overrides: Mapping[str, str] | None = None) -> ScenarioErrors:
        with pytest.raises(ScenarioErrors) as caught:
            load(text, overrides)
        return caught.value

    return _fail
