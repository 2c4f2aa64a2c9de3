"""Real 802.1q trunks in the lab, when the kernel has VLAN devices.

An uplink named `<trunk>.<vid>` on a LAN whose `vlan` is `<vid>` is a tagged sub-interface of
the host's trunk. With 8021q the lab builds it for real: one veth `<trunk>` from the host to
the switch, `<trunk>.<vid>` VLAN devices on the host end, and on the switch end one VLAN
device per VID enslaved to that LAN's bridge. Frames on the trunk wire carry their tags;
each LAN bridge sees only its own VLAN's untagged frames (the classic bridge-per-VLAN
switch, which needs no `vlan_filtering`).

The trunk may also be a plain uplink of the host (`eth0` on its LAN, and `eth0.100` for
`parent: eth0.100`): its switch port is then a trunk with that LAN untagged (native) and the
VLANs tagged, the VLAN devices on the switch end hanging off the same veth.

Without 8021q (this build machine) each such uplink stays a plain veth into its LAN's
segment: Docker uses an existing parent as is, so the containers see the same topology.

Pure: the decision is made here from the plan and the kernel's features, and unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netcheck.model.plan import Host, Lab

VLAN_FEATURE = "vlan"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkMember:
    ifname: str  # the VLAN device in the host: trunk0.100
    lan: str
    vid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Trunk:
    host: str
    ifname: str  # the trunk in the host: trunk0
    members: tuple[TrunkMember, ...]
    native: str | None = None  # the LAN of a plain uplink of that name, untagged on the trunk


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkPlan:
    trunks: tuple[Trunk, ...] = ()
    # Why uplinks that look like VLAN sub-interfaces are emulated instead ("" when none).
    emulated_because: str = ""

    def member(self, host: str, ifname: str) -> tuple[Trunk, TrunkMember] | None:
        for trunk in self.trunks:
            if trunk.host != host:
                continue
            for m in trunk.members:
                if m.ifname == ifname:
                    return trunk, m
        return None

    def facts(self) -> dict[str, str]:
        out = {"vlan.mode": "8021q" if self.trunks else "emulated"}
        if self.trunks:
            out["vlan.trunks"] = ",".join(
                f"{t.host}:{t.ifname}[{'/'.join(str(m.vid) for m in t.members)}]"
                for t in self.trunks
            )
        if self.emulated_because:
            out["vlan.emulated_because"] = self.emulated_because
        return out


def split_vlan_name(ifname: str) -> tuple[str, int] | None:
    """`trunk0.100` -> ("trunk0", 100); None when the name is not `<base>.<1..4094>`."""
    base, dot, tail = ifname.rpartition(".")
    if not dot or not base or not tail.isdigit() or tail != str(int(tail)):
        return None
    vid = int(tail)
    return (base, vid) if 1 <= vid <= 4094 else None


def _native_lan(host: Host, base: str, members: list[TrunkMember], lab: Lab) -> str | None:
    """The LAN of plain uplink `base` when its switch port can carry `members` tagged too.

    "" when it cannot (those members stay plain links); None when `base` is no uplink."""
    order = [u.ifname for u in host.uplinks]
    if base not in order:
        return None
    uplink = host.uplinks[order.index(base)]
    lan = lab.lan(uplink.lan)
    wire_mtu = uplink.mtu or lan.mtu
    fits = (
        # The runtime wires uplinks in order: the plain veth must exist before its VLANs.
        all(order.index(base) < order.index(m.ifname) for m in members)
        and lan.vlan not in {m.vid for m in members}
        and split_vlan_name(base) is None  # no VLAN-in-VLAN
        and uplink.state != "no-carrier"
        and all(lab.lan(m.lan).mtu <= wire_mtu for m in members)
    )
    return lan.name if fits else ""


def _host_trunks(host: Host, lab: Lab) -> list[Trunk]:
    lan_vlan = {lan.name: lan.vlan for lan in lab.lans}
    groups: dict[str, list[TrunkMember]] = {}
    for uplink in host.uplinks:
        split = split_vlan_name(uplink.ifname)
        if split is None:
            continue
        base, vid = split
        if lan_vlan.get(uplink.lan) != vid:
            continue  # the name says VLAN N but the LAN is not VLAN N: keep it a plain link
        member = TrunkMember(ifname=uplink.ifname, lan=uplink.lan, vid=vid)
        groups.setdefault(base, []).append(member)
    out: list[Trunk] = []
    for base, members in groups.items():
        native = _native_lan(host, base, members, lab)
        if native == "":
            continue
        wired = [u for u in host.uplinks if u.ifname in {m.ifname for m in members}]
        # A trunk is one cable: "no carrier" on one VLAN of it cannot be had for real.
        if any(u.state == "no-carrier" for u in wired):
            continue
        vids = [m.vid for m in members]
        if len(set(vids)) != len(vids):
            continue
        out.append(Trunk(host=host.name, ifname=base, members=tuple(members), native=native))
    return out


def plan_trunks(lab: Lab, features: Iterable[str]) -> TrunkPlan:
    """Which uplinks become tagged sub-interfaces of a real trunk on this kernel."""
    candidates = [t for h in lab.hosts for t in _host_trunks(h, lab)]
    if not candidates:
        return TrunkPlan()
    if VLAN_FEATURE not in set(features):
        return TrunkPlan(
            emulated_because="kernel lacks 802.1q VLAN devices (CONFIG_VLAN_8021Q): "
            "each VLAN is its own segment and its sub-interfaces are plain links into it"
        )
    return TrunkPlan(trunks=tuple(candidates))
