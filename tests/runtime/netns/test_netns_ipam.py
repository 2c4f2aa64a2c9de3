from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcheck.model.plan import Driver, Network, Subnet
from netcheck.runtime.netns.ipam import (
    IpamError,
    allocate,
    allocate_families,
    first_free,
    gateway_of,
    reserved,
)

ip = ipaddress.ip_address
net = ipaddress.ip_network


def pub_net() -> Network:
    return Network(
        name="pub_net",
        driver=Driver.MACVLAN,
        parent="eth0",
        subnets=(
            Subnet(
                subnet=net("172.16.86.0/24"),
                gateway=ip("172.16.86.1"),
                ip_range=net("172.16.86.128/25"),
                aux_addresses={"exclude_host": ip("172.16.86.250")},
            ),
        ),
    )


def test_first_free_in_ip_range_like_docker() -> None:
    subnet = pub_net().subnets[0]
    assert first_free(subnet, set()) == ip("172.16.86.128")
    assert first_free(subnet, {ip("172.16.86.128")}) == ip("172.16.86.129")


def test_first_free_skips_network_gateway_and_aux() -> None:
    subnet = Subnet(
        subnet=net("10.0.0.0/29"),
        gateway=ip("10.0.0.1"),
        aux_addresses={"a": ip("10.0.0.2"), "b": ip("10.0.0.4")},
    )
    assert reserved(subnet) == {ip(f"10.0.0.{i}") for i in (0, 1, 2, 4, 7)}
    assert first_free(subnet, set()) == ip("10.0.0.3")
    assert first_free(subnet, {ip("10.0.0.3")}) == ip("10.0.0.5")
    with pytest.raises(IpamError, match="no free address"):
        first_free(subnet, {ip("10.0.0.3"), ip("10.0.0.5"), ip("10.0.0.6")})


def test_default_gateway_is_first_host_address() -> None:
    subnet = Subnet(subnet=net("172.30.0.0/24"))
    assert gateway_of(subnet) == ip("172.30.0.1")
    assert first_free(subnet, set()) == ip("172.30.0.2")
    assert gateway_of(Subnet(subnet=net("10.0.0.0/31"))) is None


def test_ipv6_pool_skips_network_and_gateway_only() -> None:
    subnet = Subnet(subnet=net("fd00:1::/64"), gateway=ip("fd00:1::1"))
    assert first_free(subnet, set()) == ip("fd00:1::2")


def test_ip_range_outside_subnet_is_an_error() -> None:
    subnet = Subnet(subnet=net("10.0.0.0/24"), ip_range=net("10.1.0.0/28"))
    with pytest.raises(IpamError, match="not inside"):
        first_free(subnet, set())


def test_allocate_keeps_fixed_addresses_and_order() -> None:
    got = allocate(
        pub_net(),
        [("c2", None), ("c1", ip("172.16.86.10")), ("c3", None)],
        also_taken=[ip("172.16.86.129")],
    )
    assert list(got) == ["c2", "c1", "c3"]
    assert got["c1"][0] == ip("172.16.86.10")
    assert got["c2"][0] == ip("172.16.86.128")
    assert got["c3"][0] == ip("172.16.86.130")  # .129 is another host's fixed address


def test_allocate_does_not_hand_out_a_later_fixed_address() -> None:
    network = Network(
        name="n", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("10.9.0.0/24")),)
    )
    got = allocate(network, [("a", None), ("b", ip("10.9.0.2"))])
    assert got["a"][0] == ip("10.9.0.3")


@pytest.mark.parametrize(
    ("fixed", "message"),
    [("10.99.0.5", "in no subnet"), ("172.16.86.1", "reserved"), ("172.16.86.250", "reserved"),
     ("172.16.86.0", "network address")],
)
def test_allocate_rejects_bad_fixed_addresses(fixed: str, message: str) -> None:
    with pytest.raises(IpamError, match=message):
        allocate(pub_net(), [("c1", ip(fixed))])


def test_allocate_rejects_duplicate_fixed() -> None:
    with pytest.raises(IpamError, match="already in use"):
        allocate(pub_net(), [("a", ip("172.16.86.10")), ("b", ip("172.16.86.10"))])


@given(st.integers(min_value=0, max_value=40), st.sets(st.integers(0, 63), max_size=20))
def test_allocations_are_unique_and_never_reserved(count: int, taken_bits: set[int]) -> None:
    subnet = Subnet(subnet=net("10.7.0.0/26"), gateway=ip("10.7.0.1"))
    network = Network(name="n", driver=Driver.BRIDGE, subnets=(subnet,))
    taken = [ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.7.0.0")) + b) for b in taken_bits]
    try:
        got = allocate(network, [(f"e{i}", None) for i in range(count)], also_taken=taken)
    except IpamError:
        free = 64 - len(reserved(subnet) | set(taken))
        assert count > free
        return
    addresses = [a for a, _ in got.values()]
    assert len(set(addresses)) == count
    assert not set(addresses) & (reserved(subnet) | set(taken))


def dual_stack() -> Network:
    return Network(
        name="macvlan216",
        driver=Driver.MACVLAN,
        parent="eth0.218",
        subnets=(
            Subnet(subnet=net("192.168.216.0/24"), gateway=ip("192.168.216.1")),
            Subnet(subnet=net("192.168.218.0/24"), gateway=ip("192.168.218.1")),
            Subnet(subnet=net("2001:db8:abc8::/64"), gateway=ip("2001:db8:abc8::10")),
        ),
    )


def test_dual_stack_gives_one_address_per_family_like_docker() -> None:
    # Measured on Engine 20.10 with seed 001's network: the fixed IPv4 address is kept, the
    # IPv6 ones come from ::1 upwards in connect order, skipping the gateway.
    got = allocate_families(
        dual_stack(),
        [("a", ip("192.168.216.10")), ("b", ip("192.168.218.10")), ("c", None)],
    )
    assert [a for a, _ in got["a"]] == [ip("192.168.216.10"), ip("2001:db8:abc8::1")]
    assert [a for a, _ in got["b"]] == [ip("192.168.218.10"), ip("2001:db8:abc8::2")]
    assert [a for a, _ in got["c"]] == [ip("192.168.216.2"), ip("2001:db8:abc8::3")]
    assert got["b"][0][1].subnet == net("192.168.218.0/24")


def test_dual_stack_fixed_ipv6_gets_a_dynamic_ipv4() -> None:
    got = allocate_families(dual_stack(), [("a", None), ("v6", ip("2001:db8:abc8::1"))])
    assert [a for a, _ in got["v6"]] == [ip("2001:db8:abc8::1"), ip("192.168.216.3")]
    # The fixed ::1 is held back from the dynamic IPv6 pool.
    assert [a for a, _ in got["a"]] == [ip("192.168.216.2"), ip("2001:db8:abc8::2")]


def test_single_family_networks_get_one_address() -> None:
    got = allocate_families(pub_net(), [("a", None)])
    assert got == {"a": ((ip("172.16.86.128"), pub_net().subnets[0]),)}
    v6_only = Network(name="v6", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("fd00::/120")),))
    assert [a for a, _ in allocate_families(v6_only, [("a", None)])["a"]] == [ip("fd00::2")]


def test_dual_stack_exhaustion_of_the_second_family_is_an_ipam_error() -> None:
    tiny = Network(
        name="tiny",
        driver=Driver.BRIDGE,
        subnets=(Subnet(subnet=net("10.1.0.0/24")), Subnet(subnet=net("fd00::/126"))),
    )
    with pytest.raises(IpamError, match="no free address left in fd00::/126"):
        allocate_families(tiny, [("a", None), ("b", None), ("c", None)])
