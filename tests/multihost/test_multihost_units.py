"""Pure pieces of the multi-host support: MAC policy, versions, kernel-gated networks."""

from __future__ import annotations

import ipaddress

import pytest

from netcheck.model.addressing import target_address
from netcheck.model.plan import Driver, Network, NodeKind
from netcheck.model.results import Interface, Node
from netcheck.model.sites import NamespacePath
from netcheck.runtime.docker import multihost
from netcheck.runtime.docker.multihost import (
    lab_mac,
    server_major,
    unbuildable_networks,
    wants_lab_mac,
)


def test_server_major() -> None:
    assert server_major({"Version": "20.10.24+dfsg1"}) == 20
    assert server_major({"Version": "28.2.2"}) == 28
    assert server_major({}) == 0
    assert server_major({"Version": "dev"}) == 0


def test_lab_macs_are_stable_unicast_local_and_distinct_per_host() -> None:
    a = lab_mac("r1", "host1", "c1")
    assert a == lab_mac("r1", "host1", "c1")
    assert a != lab_mac("r1", "host2", "c1")
    first = int(a.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01  # locally administered, unicast
    assert len(a.split(":")) == 6


@pytest.mark.parametrize(
    ("lab", "driver", "major", "want"),
    [
        (True, Driver.MACVLAN, 20, True),
        (True, Driver.MACVLAN, 25, False),  # Docker picks random MACs itself
        (False, Driver.MACVLAN, 20, False),  # a real host keeps Docker's own choice
        (True, Driver.OVERLAY, 20, False),
        (True, None, 20, False),
    ],
)
def test_wants_lab_mac(lab: bool, driver: Driver | None, major: int, want: bool) -> None:
    assert wants_lab_mac(lab=lab, first_driver=driver, major=major) is want


def test_encrypted_overlay_is_unbuildable_only_without_esp(monkeypatch: pytest.MonkeyPatch) -> None:
    nets = [
        Network(name="sec", driver=Driver.OVERLAY, options={"encrypted": ""}),
        Network(name="plain", driver=Driver.OVERLAY),
        Network(name="mv", driver=Driver.MACVLAN, options={"encrypted": "x"}),
    ]
    monkeypatch.setattr(multihost, "esp_missing", lambda: "kernel lacks IPsec ESP (test)")
    assert unbuildable_networks(nets) == {"sec": "kernel lacks IPsec ESP (test)"}
    monkeypatch.setattr(multihost, "esp_missing", lambda: None)
    assert unbuildable_networks(nets) == {}


@pytest.mark.privileged
def test_kernel_probes_give_a_reason_or_none() -> None:
    from netcheck.runtime import features

    features.reset_cache()
    for probe in (multihost.esp_missing, multihost.ipvs_missing):
        reason = probe()
        assert reason is None or "kernel lacks" in reason or "cannot probe" in reason


def _node(name: str, *addrs: str) -> Node:
    ifaces = tuple(
        Interface(ifname="eth0", network="net", address=ipaddress.ip_address(a),
                  prefix=ipaddress.ip_network(a + ("/64" if ":" in a else "/24"), strict=False))
        for a in addrs
    )
    return Node(name=name, kind=NodeKind.ENDPOINT, site=NamespacePath(path="/x"), interfaces=ifaces)


def test_family_pins_pick_the_address_family() -> None:
    src = _node("a", "192.168.216.10", "2001:db8:abc8::2")
    dst = _node("b", "192.168.218.10", "2001:db8:abc8::3")
    assert str(target_address(src, dst, "ipv4")) == "192.168.218.10"
    assert str(target_address(src, dst, "ipv6")) == "2001:db8:abc8::3"
    assert target_address(src, _node("c", "10.0.0.1"), "ipv6") is None
