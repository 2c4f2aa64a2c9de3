"""Snapshots read from a real namespace: netlink for links/addresses/routes, procfs sysctls."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from netcheck.baseline.diff import diff_snapshots
from netcheck.baseline.snapshot import HostSnapshot, snapshot_netns, take_snapshot

pytestmark = pytest.mark.privileged


@pytest.fixture
def netns() -> Iterator[str]:
    from pyroute2 import IPRoute, netns

    name = f"nctest-snap-{os.getpid()}"
    netns.create(name)
    path = f"/run/netns/{name}"
    try:
        with IPRoute(netns=path, flags=0) as ipr:
            ipr.link("add", ifname="trunk0.136", kind="veth", peer="peer0")
            idx = ipr.link_lookup(ifname="trunk0.136")[0]
            ipr.addr("add", index=idx, address="10.136.0.2", prefixlen=24)
            ipr.link("set", index=idx, state="up")
        yield path
    finally:
        netns.remove(name)


def _sysctl(path: str, key: str, value: str) -> None:
    subprocess.run(["nsenter", f"--net={path}", "sysctl", "-qw", f"{key}={value}"], check=True)


def _host(ns: str, snap: object) -> HostSnapshot:
    return HostSnapshot(taken_at="t", hostname="h", kernel="k", namespaces={ns: snap})  # type: ignore[dict-item]


def test_snapshot_of_a_namespace_and_its_diff(netns: str) -> None:
    _sysctl(netns, "net.ipv4.conf.trunk0/136.rp_filter", "2")
    _sysctl(netns, "net.ipv4.ip_forward", "1")
    before = snapshot_netns(netns)
    assert before.links["trunk0.136"]["kind"] == "veth"
    assert before.links["trunk0.136"]["link"] == "peer0"
    assert before.addresses["trunk0.136"] == ("10.136.0.2/24",)
    assert any(r.startswith("10.136.0.0/24 dev trunk0.136") for r in before.routes)
    assert any("lookup main" in r for r in before.rules)
    assert before.sysctls["net.ipv4.conf.trunk0.136.rp_filter"] == "2"
    assert before.sysctls["net.ipv4.ip_forward"] == "1"
    for key in ("rp_filter", "log_martians", "arp_ignore", "arp_announce"):
        assert f"net.ipv4.conf.all.{key}" in before.sysctls
        assert f"net.ipv4.conf.default.{key}" in before.sysctls

    _sysctl(netns, "net.ipv4.conf.trunk0/136.rp_filter", "1")
    _sysctl(netns, "net.ipv4.ip_forward", "0")
    after = snapshot_netns(netns)
    texts = {c.text for c in diff_snapshots(_host("lab", before), _host("lab", after))}
    assert "lab: rp_filter on trunk0.136 went 2 -> 1" in texts
    assert "lab: ip_forward went 1 -> 0" in texts


def test_snapshot_of_a_missing_namespace_is_an_error() -> None:
    with pytest.raises(OSError):
        snapshot_netns("/run/netns/nctest-does-not-exist")


def test_host_snapshot_reads_the_root_namespace() -> None:
    snap = take_snapshot(docker=False)
    root = snap.namespaces["host"]
    assert "lo" in root.links
    assert "net.ipv4.ip_forward" in root.sysctls


def test_a_vxlan_device_is_snapshotted_with_its_ends_and_port(netns: str) -> None:
    from pyroute2 import IPRoute

    def vxlan(port: int) -> None:
        with IPRoute(netns=netns, flags=0) as ipr:
            for idx in ipr.link_lookup(ifname="vx42"):
                ipr.link("del", index=idx)
            ipr.link("add", ifname="vx42", kind="vxlan", vxlan_id=42, vxlan_port=port,
                     vxlan_group="10.136.0.9", vxlan_local="10.136.0.2",
                     vxlan_link=ipr.link_lookup(ifname="trunk0.136")[0])

    vxlan(4789)
    before = snapshot_netns(netns)
    assert {k: before.links["vx42"][k] for k in ("kind", "vni", "dstport", "remote", "local")} \
        == {"kind": "vxlan", "vni": "42", "dstport": "4789", "remote": "10.136.0.9",
            "local": "10.136.0.2"}
    vxlan(8472)
    after = snapshot_netns(netns)
    texts = [c.text for c in diff_snapshots(_host("lab", before), _host("lab", after))]
    assert any("vx42" in t and "dstport" in t and "8472" in t for t in texts), texts
