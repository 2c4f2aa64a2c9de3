from __future__ import annotations

import pytest

from netcheck.scenario.variables import Substituter, VariableProblem
from tests.scenario.conftest import Fail, Load


def test_plain_text_is_untouched() -> None:
    assert Substituter({}).substitute("eth0 costs $5") == "eth0 costs $5"


def test_reference_default_and_escape() -> None:
    sub = Substituter({"A": "x"})
    assert sub.substitute("${A}-${B:-y}-${C:-}-$${A}") == "x-y--${A}"
    assert sub.used == {"A": "x", "B": "y", "C": ""}


def test_set_value_beats_default() -> None:
    assert Substituter({"A": "x"}).substitute("${A:-z}") == "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${MISSING}", "variable 'MISSING' is not set"),
        ("${1BAD}", "is not a variable reference"),
        ("${A:?oops}", "is not a variable reference"),
        ("${OPEN", "unclosed variable reference"),
    ],
)
def test_problems(text: str, message: str) -> None:
    with pytest.raises(VariableProblem, match=message):
        Substituter({"A": "1"}).substitute(text)


def test_undefined_hint_suggests_a_close_name() -> None:
    with pytest.raises(VariableProblem) as caught:
        Substituter({"PARENT": "eth0"}).substitute("${PARENTT}")
    assert caught.value.hint == "Did you mean 'PARENT'?"


SCENARIO = """
    name: vars
    variables:
      PARENT: eth0
      MTU: 1400
    lab:
      lans:
        lan: {subnet: "${SUBNET:-10.1.0.0/24}", gateway: "${GW:-10.1.0.1}"}
      hosts:
        h1:
          uplinks: [{ifname: "${PARENT}", lan: lan}]
    networks:
      net:
        driver: macvlan
        parent: ${PARENT}
        mtu: ${MTU}
        internal: ${INTERNAL:-false}
        options: {note: "$${not-a-var}"}
        subnets: [{subnet: "${SUBNET:-10.1.0.0/24}"}]
    endpoints:
      c1: {networks: [net]}
"""


def test_precedence_overrides_file_default(load: Load) -> None:
    plan = load(SCENARIO)
    net = plan.network("net")
    assert (net.parent, net.mtu, net.internal) == ("eth0", 1400, False)
    assert net.options == {"note": "${not-a-var}"}
    assert plan.lab.lan("lan").subnet.compressed == "10.1.0.0/24"
    assert plan.variables["SUBNET"] == "10.1.0.0/24"

    # (At most the lab uplink's 1500: a macvlan cannot exceed its parent's MTU.)
    overrides = {"PARENT": "ens33", "MTU": "1450", "SUBNET": "10.9.0.0/24", "GW": "10.9.0.1"}
    plan = load(SCENARIO, overrides)
    net = plan.network("net")
    assert (net.parent, net.mtu) == ("ens33", 1450)
    assert plan.variables["MTU"] == "1450"
    assert plan.lab.lan("lan").subnet.compressed == "10.9.0.0/24"


def test_substitution_keeps_line_numbers(fail: Fail) -> None:
    errors = fail(SCENARIO, {"MTU": "huge", "PARENT": "eth0"})
    (err,) = errors.errors
    assert err.location.line == 15
    assert err.field == "networks.net.mtu"
    assert "expected a whole number, got 'huge'" in str(err)


def test_every_undefined_variable_is_reported(fail: Fail) -> None:
    errors = fail("""
        name: ${NAME}
        description: ${DESC}
    """)
    assert [(e.location.line, e.field) for e in errors.errors] == [
        (1, "name"), (2, "description"),
    ]
    assert "variable 'NAME' is not set" in str(errors)
    assert "--set NAME=VALUE" in str(errors)


def test_bad_override_name_is_reported(fail: Fail) -> None:
    errors = fail("name: x\n", {"not valid": "1"})
    assert "--set 'not valid': not a variable name" in str(errors)


def test_variables_section_is_not_substituted(load: Load) -> None:
    plan = load("""
        name: ${N}
        variables:
          N: "${literal}"
    """)
    assert plan.name == "${literal}"


def test_set_of_an_undeclared_variable_is_an_error(fail: Fail) -> None:
    errors = fail("""
        name: x
        variables:
          PARENT: eth0
        description: ${PARENT}
    """, {"PARNET": "ens33"})
    [error] = errors.errors
    assert error.location.line == 2  # the variables: section
    assert "--set PARNET: the scenario has no variable 'PARNET'" in str(error)
    assert "Did you mean 'PARENT'?" in str(error)


def test_set_of_a_variable_used_only_with_a_default_is_fine(load: Load) -> None:
    plan = load("name: ${N:-x}\n", {"N": "y"})
    assert plan.name == "y"


def test_set_in_a_file_without_variables_names_none(fail: Fail) -> None:
    errors = fail("name: x\n", {"ZZZ": "1"})
    assert "the scenario has no variable 'ZZZ'. It uses no variables" in str(errors)
