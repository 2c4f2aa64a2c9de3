"""The one port syntax, read the same by ports (`listen:`) and by firewall rules."""

from __future__ import annotations

import pytest

from netcheck.model.plan import Port, ProbeKind
from netcheck.scenario.labfeatures import parse_firewall_rule
from netcheck.scenario.values import ValueProblem, parse_port, port_words


@pytest.mark.parametrize(("text", "words"), [
    ("tcp/80", ("tcp", "80")),
    ("80/tcp", ("tcp", "80")),  # Docker's order
    ("tcp/x", ("tcp", "x")),
    ("tcp", None),
    ("tcp/1/2", None),
])
def test_port_words(text: str, words: tuple[str, str] | None) -> None:
    assert port_words(text) == words


@pytest.mark.parametrize("text", ["tcp/5432", "5432/tcp"])
def test_ports_and_firewall_rules_read_the_same_words(text: str) -> None:
    assert parse_port(text) == Port(proto=ProbeKind.TCP, number=5432)
    rule = parse_firewall_rule({"drop": f"{text} from c1"})
    assert (rule.proto, rule.port, rule.peer) == (ProbeKind.TCP, 5432, "c1")


@pytest.mark.parametrize("text", ["tcp/0", "tcp/70000"])
def test_an_out_of_range_port_is_the_same_error_in_both(text: str) -> None:
    with pytest.raises(ValueProblem) as port_err:
        parse_port(text)
    with pytest.raises(ValueProblem) as rule_err:
        parse_firewall_rule({"drop": text})
    assert port_err.value.message == rule_err.value.message
    assert "out of range 1-65535" in port_err.value.message


def test_what_only_a_rule_takes() -> None:
    assert parse_firewall_rule({"reject": "icmp"}).port is None
    with pytest.raises(ValueProblem, match="icmp has no ports"):
        parse_firewall_rule({"drop": "icmp/5"})
    with pytest.raises(ValueProblem, match="is not a port"):
        parse_port("icmp/5")
