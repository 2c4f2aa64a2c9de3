"""Two ends of a raw VXLAN tunnel that do not agree: a different VNI, or a different UDP port.

Both are silent to the sender: the far host's kernel has no device for that VNI (dropped,
drop reason VXLAN_VNI_NOT_FOUND) or no socket on that port (ICMP port unreachable on the
underlay, Udp.NoPorts). The evidence is both devices as read from each host, and what the
far host's kernel said while the probes ran, when it said it.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import probe_line
from netcheck.diagnose.rules._vxlan import tunnel
from netcheck.model.results import Finding, Observation

_SILENT = (Observation.SILENT, Observation.ICMP_ERROR)
VNI_DROP = "VXLAN_VNI_NOT_FOUND"
NO_PORT = "Udp.NoPorts"


class VxlanVniMismatch:
    """The two ends of a VXLAN tunnel carry different VNIs."""

    id = "vxlan-vni-mismatch"
    needs = (
        "both hosts' live vxlan devices on the probe's network (id, remote, local, dstport); "
        "VXLAN_VNI_NOT_FOUND drops while the probes ran, when recorded"
    )
    remedy = "give both ends one VNI (ip link add ... type vxlan id VNI)"

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in _SILENT:
            return None
        t = tunnel(case)
        if t is None or t.near.vni == t.far.vni:
            return None
        drops = case.live.window.drops_where(reason=VNI_DROP)
        evidence = t.lines()
        if drops:
            evidence.append(f"{len(drops)} packet(s) dropped by the kernel while the probes "
                            f"ran, drop reason {VNI_DROP}: {drops[0]}")
        evidence.append(probe_line(case))
        finding = Finding(
            id=self.id,
            summary=f"VXLAN VNI mismatch: {t.near_host.name} {t.near.ifname} sends VNI "
                    f"{t.near.vni} but {t.far_host.name} {t.far.ifname} takes VNI "
                    f"{t.far.vni}: the far kernel has no device for {t.near.vni} and drops "
                    "the frames",
            evidence=tuple(evidence),
            fix=f"use one VNI on both ends (on {t.far_host.name}: ip link del {t.far.ifname}; "
                f"ip link add {t.far.ifname} type vxlan id {t.near.vni} remote {t.far.remote} "
                f"dstport {t.far.port} ...; in the scenario: vni: {t.near.vni})",
        )
        return Explained(finding=finding,
                         strength=Strength.KERNEL if drops else Strength.STATE)


class VxlanPortMismatch:
    """The two ends of a VXLAN tunnel use different UDP ports."""

    id = "vxlan-port-mismatch"
    needs = (
        "both hosts' live vxlan devices on the probe's network (id, remote, local, dstport); "
        "the far host's Udp.NoPorts counter over the probe window"
    )
    remedy = "give both ends one UDP port (dstport)"

    def explain(self, case: Case) -> Explained | None:
        if case.result.observation not in _SILENT:
            return None
        t = tunnel(case)
        if t is None or t.near.port == t.far.port:
            return None
        evidence = t.lines()
        moved = 0
        if t.far_host.site.netns is not None:
            moved = case.live.window.delta(t.far_host.netns, NO_PORT)
        if moved:
            evidence.append(f"{t.far_host.name}: {NO_PORT} +{moved} while the probes ran "
                            f"(UDP datagrams to a port nothing listens on: "
                            f"{t.near.port})")
        evidence.append(probe_line(case))
        finding = Finding(
            id=self.id,
            summary=f"VXLAN port mismatch: {t.near_host.name} {t.near.ifname} sends to UDP "
                    f"port {t.near.port} but {t.far_host.name} {t.far.ifname} listens on "
                    f"{t.far.port}: nothing takes the encapsulated frames",
            evidence=tuple(evidence),
            fix=f"use one port on both ends (dstport {t.far.port} on {t.near_host.name} "
                f"{t.near.ifname}, or {t.near.port} on {t.far_host.name}; Docker's overlay "
                "uses 4789; in the scenario: port:)",
        )
        return Explained(finding=finding,
                         strength=Strength.KERNEL if moved else Strength.STATE)
