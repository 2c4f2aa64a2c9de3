"""Craft one probe packet per task and classify what came back. Pure: no sockets, no setns.

Imports scapy, so only worker processes (and unit tests) import this module; the main process
never does (it keeps scapy out of the engine's memory).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP, icmpcodes, icmptypes
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw
from scapy.utils6 import in6_getnsma, in6_getnsmac

from netcheck.model.plan import ProbeKind
from netcheck.model.results import Observation, Packet, ProbeResult
from netcheck.probes.base import ProbeTask, result_for
from netcheck.probes.route import RouteInfo, describe_errno
from netcheck.probes.wire import Probe, Reply, ipv4_echo

ECHO_PAYLOAD = b"netcheck-probe-0123456789abcdef"  # 32 bytes: what `ping` sends, give or take
UDP_PAYLOAD = b"netcheck udp probe\n"
BROADCAST = "ff:ff:ff:ff:ff:ff"

_ICMP4_ERRORS = (3, 4, 5, 11, 12)
_ICMP4_TEXT = {
    (3, 0): "destination network unreachable",
    (3, 1): "destination host unreachable",
    (3, 2): "destination protocol unreachable",
    (3, 3): "destination port unreachable",
    (3, 4): "fragmentation needed",
    (3, 9): "destination network administratively prohibited",
    (3, 10): "destination host administratively prohibited",
    (3, 13): "communication administratively prohibited",
    (11, 0): "time exceeded in transit",
    (11, 1): "fragment reassembly time exceeded",
}
_ICMP6_TEXT = {
    (1, 0): "no route to destination",
    (1, 1): "communication administratively prohibited",
    (1, 3): "destination address unreachable",
    (1, 4): "destination port unreachable",
    (1, 5): "source address failed policy",
    (1, 6): "reject route to destination",
    (3, 0): "hop limit exceeded in transit",
    (3, 1): "fragment reassembly time exceeded",
}
DNS_RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}


def _is_v6(task: ProbeTask) -> bool:
    return isinstance(task.target_address, ipaddress.IPv6Address)


def query_server(task: ProbeTask) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Where a probe's packet goes: the DNS server for dns probes, else the target."""
    if task.probe.kind is ProbeKind.DNS and task.dns_server is not None:
        return task.dns_server
    return task.target_address


# --- crafting ---------------------------------------------------------------------------------


def _echo_payload(size: int | None) -> bytes:
    return ECHO_PAYLOAD if size is None else bytes(i & 0xFF for i in range(size))


def craft_probe(
    task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
) -> Probe:
    """`craft()` as bytes on the wire: IPv4 echo requests without scapy, the rest through it."""
    if task.probe.kind is ProbeKind.ICMP and route.src is not None and route.src.version == 4:
        dst = query_server(task)
        payload = _echo_payload(task.probe.size)
        # Without a payload scapy's summary has no "/ Raw": leave that rare shape to scapy.
        if dst.version == 4 and payload:
            return ipv4_echo(
                src=str(route.src),
                dst=str(dst),
                ident=ident,
                seq=seq,
                payload=payload,
                df=task.probe.size is not None,
            )
    return Probe.of(craft(task, route, sport=sport, ident=ident, seq=seq, isn=isn))


def craft(
    task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
) -> ScapyPacket:
    """The packet for one task. L3 kinds start at IP/IPv6; ARP/NDP start at Ether.

    Every packet of a worker gets its own source port / echo id+seq, so scapy's matching
    (ports, ids, and the quoted header inside ICMP errors) tells the answers apart.
    """
    kind = task.probe.kind
    dst = str(query_server(task))
    src = str(route.src) if route.src is not None else None
    v6 = ":" in dst
    if kind is ProbeKind.ARP:
        return _craft_neighbour(task, route)
    l3: ScapyPacket = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst, id=seq & 0xFFFF)
    # add_payload() builds in place; `a / b` copies both sides, which was a third of a
    # worker's CPU time at 49 probes.
    if kind is ProbeKind.ICMP:
        size = task.probe.size
        payload = _echo_payload(size)
        if v6:
            return _chain(l3, ICMPv6EchoRequest(id=ident, seq=seq, data=payload))
        if size is not None:
            l3.flags = "DF"
        return _chain(l3, ICMP(type=8, id=ident, seq=seq), Raw(payload))
    if kind is ProbeKind.TCP:
        return _chain(l3, TCP(sport=sport, dport=_port(task), flags="S", seq=isn, window=64240))
    if kind is ProbeKind.UDP:
        return _chain(l3, UDP(sport=sport, dport=_port(task)), Raw(UDP_PAYLOAD))
    if kind is ProbeKind.DNS:
        qtype = "AAAA" if _is_v6(task) and task.dns_server is not None else "A"
        qname = task.probe.qname or task.target
        query = DNS(id=ident, rd=1, qd=DNSQR(qname=qname, qtype=qtype))
        return _chain(l3, UDP(sport=sport, dport=53), query)
    raise ValueError(f"unknown probe kind {kind!r}")


def _chain(*layers: ScapyPacket) -> ScapyPacket:
    for upper, lower in zip(layers[-2::-1], layers[:0:-1], strict=True):
        upper.add_payload(lower)
    # Every field holds a plain value (no RandShort & co.), so scapy may build the layers as
    # they are instead of cloning each one first: same bytes, half the build time.
    for layer in layers:
        layer.explicit = 1
    return layers[0]


def _port(task: ProbeTask) -> int:
    if task.probe.port is None:
        raise ValueError(f"{task.probe_id}: {task.probe.kind.value} probe without a port")
    return task.probe.port


def _craft_neighbour(task: ProbeTask, route: RouteInfo) -> ScapyPacket:
    dst = str(task.target_address)
    mac = route.mac or "00:00:00:00:00:00"
    src = str(route.src) if route.src is not None else None
    if ":" in dst:
        nsma = in6_getnsma(socket.inet_pton(socket.AF_INET6, dst))
        group = str(ipaddress.IPv6Address(nsma))
        return (
            Ether(src=mac, dst=in6_getnsmac(nsma))
            / IPv6(src=src, dst=group, hlim=255)
            / ICMPv6ND_NS(tgt=dst)
            / ICMPv6NDOptSrcLLAddr(lladdr=mac)
        )
    return Ether(src=mac, dst=BROADCAST) / ARP(
        op=1,
        hwsrc=mac,
        psrc=src or "0.0.0.0",  # noqa: S104 - ARP probe from an address-less interface
        hwdst="00:00:00:00:00:00",
        pdst=dst,
    )


# --- evidence ---------------------------------------------------------------------------------


def _ts(value: Any) -> float | None:
    return None if value is None else float(value)


def evidence(pkt: ScapyPacket, t0: float, *, sent: bool) -> Packet:
    when = _ts(getattr(pkt, "sent_time", None) if sent else getattr(pkt, "time", None))
    src: str | None = None
    dst: str | None = None
    if ARP in pkt:
        src, dst = str(pkt[ARP].hwsrc), str(pkt[ARP].pdst)
    elif ICMPv6ND_NA in pkt or ICMPv6ND_NS in pkt:
        src, dst = str(pkt[Ether].src) if Ether in pkt else str(pkt[IPv6].src), str(pkt[IPv6].dst)
    elif IP in pkt:
        src, dst = str(pkt[IP].src), str(pkt[IP].dst)
    elif IPv6 in pkt:
        src, dst = str(pkt[IPv6].src), str(pkt[IPv6].dst)
    return Packet(
        summary=pkt.summary(),
        src=src,
        dst=dst,
        time=_since(when, t0),
    )


def _since(when: float | None, t0: float) -> float | None:
    """A timestamp as seconds into the batch (`t0`), as evidence shows it."""
    return None if when is None else round(when - t0, 6)


# --- classification ---------------------------------------------------------------------------


def icmp_error_text(pkt: ScapyPacket) -> tuple[str, bool] | None:
    """(text, is_port_unreachable) for an ICMP/ICMPv6 error, None when `pkt` is not one."""
    if ICMP in pkt and pkt[ICMP].type in _ICMP4_ERRORS:
        icmp = pkt[ICMP]
        key = (int(icmp.type), int(icmp.code))
        text = _ICMP4_TEXT.get(key)
        if text is None:
            tname = icmptypes.get(key[0], f"type {key[0]}")
            cname = icmpcodes.get(key[0], {}).get(key[1], f"code {key[1]}")
            text = f"ICMP {tname} {cname}"
        if key == (3, 4):
            text = f"{text} (next-hop MTU {int(icmp.nexthopmtu)})"
        return text, key == (3, 3)
    for cls in (ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem):
        if cls in pkt:
            layer = pkt[cls]
            key = (int(layer.type), int(layer.code))
            if cls is ICMPv6PacketTooBig:
                return f"packet too big (MTU {int(layer.mtu)})", False
            if cls is ICMPv6ParamProblem:
                return f"ICMPv6 parameter problem code {key[1]}", False
            return _ICMP6_TEXT.get(key, f"ICMPv6 type {key[0]} code {key[1]}"), key == (1, 4)
    return None


def _l3_src(pkt: ScapyPacket) -> str:
    if IP in pkt:
        return str(pkt[IP].src)
    if IPv6 in pkt:
        return str(pkt[IPv6].src)
    return "?"


def _rtt_ms(sent: ScapyPacket, reply: ScapyPacket) -> float | None:
    return _rtt(_ts(getattr(sent, "sent_time", None)), _ts(getattr(reply, "time", None)))


def _rtt(t_sent: float | None, t_recv: float | None) -> float | None:
    if t_sent is None or t_recv is None:
        return None
    return round(max(t_recv - t_sent, 0.0) * 1000.0, 3)


def _base(
    task: ProbeTask, route: RouteInfo | None, observation: Observation, detail: str, **kw: Any
) -> ProbeResult:
    return result_for(
        task, observation, detail,
        source_interface=route.ifname if route is not None else None,
        source_address=route.src if route is not None else None,
        **kw,
    )


def error_result(task: ProbeTask, detail: str, route: RouteInfo | None = None) -> ProbeResult:
    return _base(task, route, Observation.ERROR, detail)


def send_error_result(
    task: ProbeTask, route: RouteInfo, sent: ScapyPacket, err: OSError, t0: float
) -> ProbeResult:
    """The local stack refused the packet: TOO_BIG for EMSGSIZE, otherwise ERROR."""
    code = err.errno or 0
    ev = (evidence(sent, t0, sent=True),)
    if code == errno.EMSGSIZE:
        mtu = route.mtu if route.mtu is not None else "unknown"
        return _base(
            task,
            route,
            Observation.TOO_BIG,
            f"{len(sent)}-byte packet with DF exceeds the local MTU {mtu} of {route.ifname}",
            sent=ev,
        )
    return _base(task, route, Observation.ERROR, f"could not send: {describe_errno(code)}", sent=ev)


def classify_probe(
    task: ProbeTask,
    route: RouteInfo,
    probe: Probe,
    replies: Sequence[Reply],
    *,
    timeout: float,
    t0: float,
) -> ProbeResult:
    """`classify()` for a probe as sent on the wire; scapy only when the fast path cannot.

    An IPv4 echo request answered by plain echo replies (or by nothing) gets the very result
    `classify()` would give, without dissecting anything.
    """
    if probe.summary is None or any(r.echo_key is None for r in replies):
        pkts = [p for p in (r.packet() for r in replies) if p is not None]
        return classify(task, route, probe.packet(), pkts, timeout=timeout, t0=t0)
    sent_ev = (
        Packet(
            summary=probe.summary,
            src=probe.src,
            dst=probe.dst,
            time=_since(probe.sent_time, t0),
        ),
    )
    if not replies:
        return _base(
            task,
            route,
            Observation.SILENT,
            f"no echo reply from {probe.dst} within {timeout:g} s",
            sent=sent_ev,
        )
    received = tuple(
        Packet(summary=r.summary, src=r.src, dst=r.dst, time=_since(r.time, t0)) for r in replies
    )
    who = received[0].src
    rtt = _rtt(probe.sent_time, replies[0].time)
    in_ms = f" in {rtt:.2f} ms" if rtt is not None else ""
    return _base(
        task,
        route,
        Observation.ANSWERED,
        f"echo reply from {who}{in_ms}",
        sent=sent_ev,
        received=received,
        rtt_ms=rtt,
        answered_by=(who,),
    )


def classify(
    task: ProbeTask,
    route: RouteInfo,
    sent: ScapyPacket,
    replies: Sequence[ScapyPacket],
    *,
    timeout: float,
    t0: float,
) -> ProbeResult:
    """What one sent packet and the replies matched to it mean, as a ProbeResult."""
    kind = task.probe.kind
    sent_ev = (evidence(sent, t0, sent=True),)
    if kind is ProbeKind.ARP:
        return _classify_neighbour(task, route, sent, replies, timeout=timeout, t0=t0)
    dst = str(query_server(task))
    if not replies:
        what = {
            ProbeKind.ICMP: "echo reply",
            ProbeKind.TCP: "SYN-ACK or RST",
            ProbeKind.UDP: "UDP reply",
            ProbeKind.DNS: "DNS reply",
        }[kind]
        where = f"{dst}:{task.probe.port}" if kind in (ProbeKind.TCP, ProbeKind.UDP) else dst
        return _base(
            task,
            route,
            Observation.SILENT,
            f"no {what} from {where} within {timeout:g} s",
            sent=sent_ev,
        )
    reply = replies[0]
    kw: dict[str, Any] = {
        "sent": sent_ev,
        "received": tuple(evidence(r, t0, sent=False) for r in replies),
        "rtt_ms": _rtt_ms(sent, reply),
    }
    who = _l3_src(reply)
    err = icmp_error_text(reply)
    if err is not None:
        text, port_unreachable = err
        local = route.src is not None and who == str(route.src)
        origin = f"{who} (this namespace: no neighbour answered)" if local else who
        kw["answered_by"] = (who,)
        if port_unreachable and kind in (ProbeKind.UDP, ProbeKind.DNS, ProbeKind.TCP):
            return _base(
                task, route, Observation.REFUSED, f"{text} from {origin}: port closed", **kw
            )
        return _base(task, route, Observation.ICMP_ERROR, f"{text} from {origin}", **kw)
    rtt = kw["rtt_ms"]
    in_ms = f" in {rtt:.2f} ms" if rtt is not None else ""
    if kind is ProbeKind.ICMP:
        if (ICMP in reply and reply[ICMP].type == 0) or ICMPv6EchoReply in reply:
            kw["answered_by"] = (who,)
            return _base(task, route, Observation.ANSWERED, f"echo reply from {who}{in_ms}", **kw)
    elif kind is ProbeKind.TCP and TCP in reply:
        flags = reply[TCP].flags
        kw["answered_by"] = (who,)
        port = reply[TCP].sport
        if flags.S and flags.A:
            return _base(
                task, route, Observation.ANSWERED, f"SYN-ACK from {who}:{port}{in_ms}", **kw
            )
        if flags.R:
            return _base(
                task, route, Observation.REFUSED, f"RST from {who}:{port}: port closed", **kw
            )
    elif kind is ProbeKind.UDP and UDP in reply:
        kw["answered_by"] = (who,)
        n = len(bytes(reply[UDP].payload))
        return _base(
            task,
            route,
            Observation.ANSWERED,
            f"UDP reply ({n} bytes) from {who}:{reply[UDP].sport}{in_ms}",
            **kw,
        )
    elif kind is ProbeKind.DNS and UDP in reply:
        return _classify_dns(task, route, reply, who, in_ms, kw)
    return _base(
        task,
        route,
        Observation.ICMP_ERROR if (ICMP in reply or IPv6 in reply) else Observation.ANSWERED,
        f"unexpected reply from {who}: {reply.summary()}",
        **kw,
    )


def _classify_dns(
    task: ProbeTask,
    route: RouteInfo,
    reply: ScapyPacket,
    who: str,
    in_ms: str,
    kw: dict[str, Any],
) -> ProbeResult:
    qname = task.probe.qname or task.target
    try:
        dns = DNS(bytes(reply[UDP].payload))
    except Exception:  # a reply that is not DNS at all
        return _base(
            task, route, Observation.DNS_ERROR, f"reply from {who} is not a DNS message", **kw
        )
    rcode = int(dns.rcode)
    name = DNS_RCODES.get(rcode, f"RCODE{rcode}")
    if rcode != 0:
        kw["answered_by"] = (who,)
        return _base(task, route, Observation.DNS_ERROR, f"{name} for {qname} from {who}", **kw)
    addresses: list[str] = []
    for rr in dns.an or []:
        if int(getattr(rr, "type", 0)) in (1, 28):
            addresses.append(str(rr.rdata))
    if not addresses:
        kw["answered_by"] = (who,)
        return _base(
            task,
            route,
            Observation.DNS_ERROR,
            f"NOERROR without addresses (NODATA) for {qname} from {who}",
            **kw,
        )
    kw["answered_by"] = tuple(addresses)
    listed = ", ".join(addresses)
    return _base(
        task, route, Observation.ANSWERED, f"{qname} -> {listed} (server {who}{in_ms})", **kw
    )


def _neighbour_mac(pkt: ScapyPacket) -> str | None:
    if ARP in pkt and pkt[ARP].op == 2:
        return str(pkt[ARP].hwsrc).lower()
    if ICMPv6ND_NA in pkt:
        if ICMPv6NDOptDstLLAddr in pkt:
            return str(pkt[ICMPv6NDOptDstLLAddr].lladdr).lower()
        if Ether in pkt:
            return str(pkt[Ether].src).lower()
    return None


def _classify_neighbour(
    task: ProbeTask,
    route: RouteInfo,
    sent: ScapyPacket,
    replies: Sequence[ScapyPacket],
    *,
    timeout: float,
    t0: float,
) -> ProbeResult:
    proto = "NDP" if _is_v6(task) else "ARP"
    dst = task.target_address
    macs: list[str] = []
    for r in replies:
        mac = _neighbour_mac(r)
        if mac is not None and mac not in macs:
            macs.append(mac)
    sent_ev = (evidence(sent, t0, sent=True),)
    if not macs:
        return _base(
            task,
            route,
            Observation.SILENT,
            f"no {proto} reply for {dst} on {route.ifname} within {timeout:g} s",
            sent=sent_ev,
        )
    kw: dict[str, Any] = {
        "sent": sent_ev,
        "received": tuple(evidence(r, t0, sent=False) for r in replies),
        "answered_by": tuple(macs),
        "rtt_ms": _rtt_ms(sent, replies[0]),
    }
    if len(macs) > 1:
        return _base(
            task,
            route,
            Observation.CONFLICT,
            f"{dst} claimed by {len(macs)} MACs on {route.ifname}: {', '.join(macs)}",
            **kw,
        )
    rtt = kw["rtt_ms"]
    in_ms = f" in {rtt:.2f} ms" if rtt is not None else ""
    return _base(
        task, route, Observation.ANSWERED, f"{dst} is at {macs[0]} ({proto} reply{in_ms})", **kw
    )
