"""`arp`: who has the target's address, on the link (ARP for IPv4, NDP solicitation for
IPv6), sent as an Ethernet frame on the route's interface. Every answer is kept: one MAC is
an answer, several are a CONFLICT (the answering MACs are the evidence)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netcheck.model.results import Observation, Packet, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds._results import in_ms, result, since
from netcheck.probes.kinds.base import BaseKind, Kind, Syntax
from netcheck.probes.route import RouteInfo

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket

BROADCAST = "ff:ff:ff:ff:ff:ff"


class Arp(BaseKind):
    word = "arp"
    syntax = Syntax(order=10)
    link_layer = True
    resolves_neighbour = True

    def route_error(self, task: ProbeTask, route: RouteInfo) -> str | None:
        if route.on_link:
            return None
        why = f"via {route.gateway}" if route.gateway else "a local address"
        return f"target not on-link for ARP ({task.target_address} is {why})"

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
        from scapy.layers.l2 import ARP, Ether
        from scapy.utils6 import in6_getnsma, in6_getnsmac

        dst = str(task.target_address)
        mac = route.mac or "00:00:00:00:00:00"
        src = str(route.src) if route.src is not None else None
        if ":" in dst:
            nsma = in6_getnsma(socket.inet_pton(socket.AF_INET6, dst))
            group = str(ipaddress.IPv6Address(nsma))
            pkt: ScapyPacket = (
                Ether(src=mac, dst=in6_getnsmac(nsma))
                / IPv6(src=src, dst=group, hlim=255)
                / ICMPv6ND_NS(tgt=dst)
                / ICMPv6NDOptSrcLLAddr(lladdr=mac)
            )
            return pkt
        arp: ScapyPacket = Ether(src=mac, dst=BROADCAST) / ARP(
            op=1,
            hwsrc=mac,
            psrc=src or "0.0.0.0",  # noqa: S104 - ARP probe from an address-less interface
            hwdst="00:00:00:00:00:00",
            pdst=dst,
        )
        return arp

    def evidence(self, pkt: ScapyPacket, t0: float, *, sent: bool) -> Packet:
        """ARP: the sender's MAC and the address asked for; NDP: the frame's source MAC and
        the IPv6 destination (the solicited-node group, or the one advertised to)."""
        from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, IPv6
        from scapy.layers.l2 import ARP, Ether

        from netcheck.probes.kinds._evidence import l3_evidence, packet_time

        if ARP in pkt:
            src, dst = str(pkt[ARP].hwsrc), str(pkt[ARP].pdst)
        elif ICMPv6ND_NA in pkt or ICMPv6ND_NS in pkt:
            src = str(pkt[Ether].src) if Ether in pkt else str(pkt[IPv6].src)
            dst = str(pkt[IPv6].dst)
        else:
            return l3_evidence(pkt, t0, sent=sent)
        when = since(packet_time(pkt, sent=sent), t0)
        return Packet(summary=pkt.summary(), src=src, dst=dst, time=when)

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        from netcheck.probes.kinds._common import rtt_ms

        proto = "NDP" if isinstance(task.target_address, ipaddress.IPv6Address) else "ARP"
        dst = task.target_address
        macs: list[str] = []
        for r in replies:
            mac = _neighbour_mac(r)
            if mac is not None and mac not in macs:
                macs.append(mac)
        sent_ev = (self.evidence(sent, t0, sent=True),)
        if not macs:
            return result(
                task,
                route,
                Observation.SILENT,
                f"no {proto} reply for {dst} on {route.ifname} within {timeout:g} s",
                sent=sent_ev,
            )
        kw: dict[str, Any] = {
            "sent": sent_ev,
            "received": tuple(self.evidence(r, t0, sent=False) for r in replies),
            "answered_by": tuple(macs),
            "rtt_ms": rtt_ms(sent, replies[0]),
        }
        if len(macs) > 1:
            return result(
                task,
                route,
                Observation.CONFLICT,
                f"{dst} claimed by {len(macs)} MACs on {route.ifname}: {', '.join(macs)}",
                **kw,
            )
        return result(
            task,
            route,
            Observation.ANSWERED,
            f"{dst} is at {macs[0]} ({proto} reply{in_ms(kw['rtt_ms'])})",
            **kw,
        )


def _neighbour_mac(pkt: ScapyPacket) -> str | None:
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr
    from scapy.layers.l2 import ARP, Ether

    if ARP in pkt and pkt[ARP].op == 2:
        return str(pkt[ARP].hwsrc).lower()
    if ICMPv6ND_NA in pkt:
        if ICMPv6NDOptDstLLAddr in pkt:
            return str(pkt[ICMPv6NDOptDstLLAddr].lladdr).lower()
        if Ether in pkt:
            return str(pkt[Ether].src).lower()
    return None


KIND: Kind = Arp()
