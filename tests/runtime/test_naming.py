from __future__ import annotations

import pytest

from netcheck.runtime import naming


def test_new_run_id_is_six_lowercase_hex() -> None:
    ids = {naming.new_run_id() for _ in range(50)}
    assert all(naming.is_run_id(i) for i in ids)
    assert len(ids) > 40


@pytest.mark.parametrize("bad", ["", "abc12", "abc1234", "ABC123", "abc12g", "../x12", "abc12 "])
def test_bad_run_ids_are_rejected(bad: str) -> None:
    assert not naming.is_run_id(bad)
    with pytest.raises(ValueError, match="run id"):
        naming.check_run_id(bad)


def test_netns_name_and_parse_round_trip() -> None:
    assert naming.netns_name("a1b2c3", "host1") == "nc-a1b2c3-host1"
    assert naming.netns_path("a1b2c3", "sw") == "/run/netns/nc-a1b2c3-sw"
    assert naming.parse_netns_name("nc-a1b2c3-host1") == ("a1b2c3", "host1")
    assert naming.parse_netns_name("nc-a1b2c3-my-node.2") == ("a1b2c3", "my-node.2")


@pytest.mark.parametrize(
    "name",
    ["nctest-decoy", "nc-A1B2C3-x", "nc-a1b2c-x", "nc-a1b2c3-", "nc-a1b2c3", "xnc-a1b2c3-h",
     "nc-a1b2c3-h/x", "nc-a1b2c34-h", "docker-abc"],
)
def test_foreign_names_are_not_ours(name: str) -> None:
    assert naming.parse_netns_name(name) is None


@pytest.mark.parametrize("node", ["", "../etc", "a/b", "-x", "a b", "x" * 65])
def test_bad_node_names_are_rejected(node: str) -> None:
    with pytest.raises(ValueError, match="node name"):
        naming.netns_name("a1b2c3", node)


def test_check_ifname_applies_kernel_rules() -> None:
    assert naming.check_ifname("trunk0.100") == "trunk0.100"
    assert naming.check_ifname("x" * 15) == "x" * 15
    for bad in ["", "x" * 16, "a:b", "a/b", "a b", ".", ".."]:
        with pytest.raises(ValueError):
            naming.check_ifname(bad)


def test_unique_ifname_truncates_and_disambiguates() -> None:
    used: set[str] = set()
    first = naming.unique_ifname("verylongmachinename-lan", used)
    used.add(first)
    second = naming.unique_ifname("verylongmachinename-lan", used)
    used.add(second)
    third = naming.unique_ifname("verylongmachinename-lan", used)
    assert first == "verylongmachine"
    assert second == "verylongmachi~1"
    assert third == "verylongmachi~2"
    assert all(len(n) <= naming.IFNAME_MAX for n in (first, second, third))
    assert naming.unique_ifname("a/b:c d", set()) == "a_b_c_d"


def test_link_alias_carries_run_id() -> None:
    assert naming.link_alias("a1b2c3") == "netcheck:a1b2c3"
