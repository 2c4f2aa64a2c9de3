"""The 802.1q trunk decision (pure) and the netlink calls the netns runtime makes for it.

This machine's kernel has no 802.1q, so the real path is checked against a recording
IPRoute here and built for real in the VM tier.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from netcheck.model.plan import Host, Lab, Lan, Plan, Uplink
from netcheck.runtime.netns.context import BuildContext, Built
from netcheck.runtime.netns.steps.lab import wire_tagged
from netcheck.runtime.netns.trunks import TrunkPlan, plan_trunks, split_vlan_name

V100 = Lan(name="v100", subnet=ipaddress.ip_network("10.100.0.0/24"), gateway=None, vlan=100)
V200 = Lan(name="v200", subnet=ipaddress.ip_network("10.200.0.0/24"), gateway=None, vlan=200)
PLAIN = Lan(name="lan", subnet=ipaddress.ip_network("10.1.0.0/24"), gateway=None)


def lab(*uplinks: Uplink, lans: tuple[Lan, ...] = (V100, V200, PLAIN)) -> Lab:
    return Lab(lans=lans, hosts=(Host(name="host1", uplinks=uplinks),))


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("trunk0.100", ("trunk0", 100)),
        ("eth0.4094", ("eth0", 4094)),
        ("a.b.7", ("a.b", 7)),
        ("eth0", None),
        ("eth0.", None),
        (".100", None),
        ("eth0.0", None),
        ("eth0.4095", None),
        ("eth0.010", None),
        ("eth0.x1", None),
    ],
)
def test_split_vlan_name(name: str, want: tuple[str, int] | None) -> None:
    assert split_vlan_name(name) == want


def test_kernel_with_8021q_builds_one_trunk_per_host_base() -> None:
    got = plan_trunks(
        lab(Uplink(ifname="trunk0.100", lan="v100"), Uplink(ifname="trunk0.200", lan="v200")),
        {"veth", "bridge", "vlan"},
    )
    assert len(got.trunks) == 1
    trunk = got.trunks[0]
    assert (trunk.host, trunk.ifname) == ("host1", "trunk0")
    assert [(m.ifname, m.lan, m.vid) for m in trunk.members] == [
        ("trunk0.100", "v100", 100),
        ("trunk0.200", "v200", 200),
    ]
    assert got.member("host1", "trunk0.200") is not None
    assert got.member("host1", "eth0") is None
    assert got.facts()["vlan.mode"] == "8021q"
    assert got.facts()["vlan.trunks"] == "host1:trunk0[100/200]"


def test_kernel_without_8021q_emulates_and_says_why() -> None:
    got = plan_trunks(lab(Uplink(ifname="trunk0.100", lan="v100")), {"veth", "bridge"})
    assert got.trunks == ()
    assert got.member("host1", "trunk0.100") is None
    assert "CONFIG_VLAN_8021Q" in got.facts()["vlan.emulated_because"]
    assert got.facts()["vlan.mode"] == "emulated"


def test_names_that_are_not_the_lans_vlan_stay_plain_links() -> None:
    got = plan_trunks(
        lab(Uplink(ifname="trunk0.300", lan="v100"), Uplink(ifname="eth1.5", lan="lan")),
        {"vlan"},
    )
    assert got.trunks == ()
    assert "vlan.emulated_because" not in got.facts()  # nothing looked like a trunk


def test_a_plain_uplink_of_the_trunks_name_is_its_native_vlan() -> None:
    got = plan_trunks(
        lab(Uplink(ifname="eth0", lan="lan"), Uplink(ifname="eth0.100", lan="v100")), {"vlan"}
    )
    assert [(t.ifname, t.native, [m.vid for m in t.members]) for t in got.trunks] == [
        ("eth0", "lan", [100])
    ]
    assert got.member("host1", "eth0") is None  # the plain veth itself, wired as before


@pytest.mark.parametrize(
    "uplinks",
    [
        # wired after its VLANs: the runtime would make the trunk veth first
        (Uplink(ifname="trunk0.100", lan="v100"), Uplink(ifname="trunk0", lan="lan")),
        # the plain uplink is untagged on VLAN 200 already
        (Uplink(ifname="trunk0", lan="v200"), Uplink(ifname="trunk0.200", lan="v200")),
        # its cable is unplugged
        (Uplink(ifname="trunk0", lan="lan", state="no-carrier"),
         Uplink(ifname="trunk0.100", lan="v100")),
        # its MTU is smaller than the VLAN's
        (Uplink(ifname="trunk0", lan="lan", mtu=1400), Uplink(ifname="trunk0.100", lan="v100")),
    ],
)
def test_a_plain_uplink_that_cannot_carry_the_vlans_leaves_them_emulated(
    uplinks: tuple[Uplink, ...],
) -> None:
    assert plan_trunks(lab(*uplinks), {"vlan"}).trunks == ()


def test_an_unplugged_vlan_stays_emulated() -> None:
    unplugged = lab(
        Uplink(ifname="trunk0.100", lan="v100", state="no-carrier"),
        Uplink(ifname="trunk0.200", lan="v200"),
    )
    assert plan_trunks(unplugged, {"vlan"}).trunks == ()


class RecordingIPRoute:
    """Enough of pyroute2.IPRoute for wire_tagged: names -> indexes, calls recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.index: dict[str, int] = {}

    def link(self, command: str, **kw: Any) -> None:
        self.calls.append((command, kw))
        if command == "add":
            self.index[kw["ifname"]] = 100 + len(self.index)
            peer = kw.get("peer")
            if peer is not None:
                self.peer_created = peer

    def link_lookup(self, ifname: str) -> list[int]:
        return [self.index[ifname]] if ifname in self.index else []

    def brport(self, command: str, **kw: Any) -> None:
        self.calls.append((f"brport-{command}", kw))


def recorded_runtime(
    netns_dir: Path, *uplinks: Uplink,
) -> tuple[BuildContext, RecordingIPRoute, RecordingIPRoute, Plan, TrunkPlan]:
    """A build context whose switch and host1 namespaces record netlink calls. The
    namespace files are plain files here: the build only opens them to hand an fd over."""
    plan_lab = lab(*uplinks)
    rt = BuildContext("abc123", str(netns_dir))
    Path(rt.path("host1")).touch()
    sw, host = RecordingIPRoute(), RecordingIPRoute()
    rt.ipr = {"sw": sw, "host1": host}
    plan = Plan(name="t", source="t.yaml", description=None, lab=plan_lab, networks=(),
                endpoints=(), expectations=())
    return rt, sw, host, plan, plan_trunks(plan_lab, {"vlan"})


def test_wire_tagged_makes_one_trunk_veth_and_vlan_devices_on_both_ends(
        tmp_path: Path) -> None:
    rt, sw, host, plan, trunks = recorded_runtime(
        tmp_path,
        Uplink(ifname="trunk0.100", lan="v100"), Uplink(ifname="trunk0.200", lan="v200")
    )

    # The veth's host end appears in the host namespace when the switch creates the pair.
    def sw_link(command: str, **kw: Any) -> None:
        RecordingIPRoute.link(sw, command, **kw)
        if command == "add" and kw.get("kind") == "veth":
            host.index[kw["peer"]["ifname"]] = 7

    sw.link = sw_link  # type: ignore[method-assign]
    built = Built()
    built.lan_bridge.update({"v100": 11, "v200": 12})
    used = built.switch_used
    for name in ("trunk0.100", "trunk0.200"):
        found = trunks.member("host1", name)
        assert found is not None
        wire_tagged(rt, built, plan, *found, mtu=None)

    sw_adds = [kw for cmd, kw in sw.calls if cmd == "add"]
    assert [kw["kind"] for kw in sw_adds] == ["veth", "vlan", "vlan"]  # one trunk cable
    assert sw_adds[0]["peer"]["ifname"] == "trunk0"
    assert [(kw["vlan_id"], kw["master"]) for kw in sw_adds[1:]] == [(100, 11), (200, 12)]
    host_adds = [kw for cmd, kw in host.calls if cmd == "add"]
    assert [(kw["ifname"], kw["kind"], kw["vlan_id"], kw["link"]) for kw in host_adds] == [
        ("trunk0.100", "vlan", 100, 7),
        ("trunk0.200", "vlan", 200, 7),
    ]
    assert built.switch_port[("host1", "trunk0.100")] != built.switch_port[("host1", "trunk0.200")]
    assert all(len(name) <= 15 for name in used)


def test_wire_tagged_hangs_vlans_on_the_plain_uplinks_switch_port(tmp_path: Path) -> None:
    rt, sw, host, plan, trunks = recorded_runtime(
        tmp_path,
        Uplink(ifname="eth0", lan="lan"), Uplink(ifname="eth0.100", lan="v100")
    )
    sw.index["host1-eth0"] = 40  # what wire made for the plain uplink
    host.index["eth0"] = 7
    built = Built()
    built.lan_bridge["v100"] = 11
    built.switch_used = {"host1-eth0"}
    built.switch_port[("host1", "eth0")] = "host1-eth0"
    found = trunks.member("host1", "eth0.100")
    assert found is not None
    wire_tagged(rt, built, plan, *found, mtu=None)

    sw_adds = [kw for cmd, kw in sw.calls if cmd == "add"]
    assert [(kw["kind"], kw["link"], kw["vlan_id"], kw["master"]) for kw in sw_adds] == [
        ("vlan", 40, 100, 11)
    ]
    host_adds = [kw for cmd, kw in host.calls if cmd == "add"]
    assert [(kw["ifname"], kw["link"], kw["vlan_id"]) for kw in host_adds] == [
        ("eth0.100", 7, 100)
    ]
