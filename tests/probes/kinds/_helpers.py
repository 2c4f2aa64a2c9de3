"""Shared by the kind tests: a task, a route, packets as a socket hands them over."""

from __future__ import annotations

import ipaddress

from scapy.compat import raw
from scapy.packet import Packet as ScapyPacket

from netcheck.model.plan import ProbeSpec
from netcheck.model.sites import NamespacePath
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds import Kind
from netcheck.probes.route import RouteInfo

SRC, DST, ROUTER, SERVER = "10.0.0.1", "10.0.0.2", "10.0.0.254", "10.0.0.53"
SRC6, DST6, ROUTER6 = "fd00::1", "fd00::2", "fd00::fe"
MAC = "02:00:00:00:00:01"
T0 = 1000.0
IDS = {"sport": 40000, "ident": 0x1234, "seq": 1, "isn": 1000}


def route(src: str | None = SRC, **kw: object) -> RouteInfo:
    fields: dict[str, object] = {
        "ifname": "eth0", "ifindex": 2, "src": ipaddress.ip_address(src) if src else None,
        "gateway": None, "mtu": 1500, "mac": MAC,
    }
    fields.update(kw)
    return RouteInfo(**fields)  # type: ignore[arg-type]


def task(spec: ProbeSpec, dst: str = DST, dns_server: str | None = None) -> ProbeTask:
    return ProbeTask(
        probe_id=f"{spec.kind}:a->b",
        source="a",
        source_site=NamespacePath(path="/run/netns/x"),
        target="b",
        target_address=ipaddress.ip_address(dst),
        probe=spec,
        dns_server=ipaddress.ip_address(dns_server) if dns_server else None,
    )


def sent(kind: Kind, t: ProbeTask, r: RouteInfo | None = None) -> ScapyPacket:
    pkt = kind.craft(t, r or route(), **IDS)
    pkt.sent_time = T0 + 0.001
    return pkt


def received(pkt: ScapyPacket, at: float = 0.003) -> ScapyPacket:
    """As the socket would hand it over: dissected from bytes, with a kernel timestamp."""
    out = pkt.__class__(raw(pkt))
    out.time = T0 + at
    return out
