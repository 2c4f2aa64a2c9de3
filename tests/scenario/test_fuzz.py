"""Whatever YAML-able structure comes in, only ScenarioErrors (or a Plan) comes out."""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from netcheck.errors import ScenarioErrors
from netcheck.model.plan import Plan
from netcheck.scenario import load_plan
from tests.scenario.fuzzing import count, fuzz_settings, log_examples

QUICKSTART = Path(__file__).parents[2] / "scenarios" / "quickstart.yaml"

# Real keys and values make the structures reach deep into the validators.
WORDS = [
    "name", "lab", "lans", "lan", "router", "machines", "hosts", "uplinks", "ifname", "ip",
    "subnet", "gateway", "vlan", "mtu", "networks", "driver", "parent", "macvlan_mode",
    "ipvlan_mode", "subnets", "ip_range", "aux_addresses", "options", "endpoints", "host",
    "expectations", "from", "to", "mesh", "isolated", "probe", "reachable", "server",
    "listen", "variables", "c1", "c2", "nas", "host1", "pub_net",
]
VALUES = [
    "macvlan", "ipvlan", "bridge", "passthru", "l3", "icmp", "tcp/80", "tcp", "dns/c2",
    "icmp/df/1400", "10.0.0.0/24", "10.0.0.1", "fd00::/64", "fd00::1", "c1", "c2@pub_net",
    "${X}", "${X:-1}", "$${X}", "eth0", "",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=False),
    st.sampled_from(VALUES), st.text(max_size=8),
)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(WORDS), st.text(max_size=5)), inner,
                        max_size=5),
    ),
    max_leaves=30,
)


# `--set X=1` only where the document uses ${X}: a --set of a variable the file never
# mentions is itself an error, which would stop every document at the first step.
_USES_X = re.compile(r"(?<!\$)\$\{X(\}|:-)")


def sets_for(text: str) -> dict[str, str]:
    return {"X": "1"} if _USES_X.search(text) else {}


def _check(data: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        try:
            result = load_plan(path, sets_for(path.read_text(encoding="utf-8")))
        except ScenarioErrors as errors:
            assert errors.errors
            return
        assert isinstance(result, Plan)


@pytest.fixture(scope="module", autouse=True)
def _report_examples() -> Iterator[None]:
    yield
    log_examples()


@fuzz_settings(500)
@given(st.dictionaries(st.sampled_from(WORDS), structures, max_size=6))
def test_random_structures_raise_only_scenario_errors(data: dict[str, Any]) -> None:
    count("random_structures")
    _check(data)


_BASE = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


_ALL_PATHS = _paths(_BASE)[1:]


@fuzz_settings(500)
@given(st.sampled_from(_ALL_PATHS), structures)
def test_mutated_quickstart_raises_only_scenario_errors(
    where: tuple[Any, ...], value: Any
) -> None:
    count("mutated_quickstart")
    data = copy.deepcopy(_BASE)
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    _check(data)
