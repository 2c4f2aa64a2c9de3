"""`dns/NAME`: a query for NAME (A, or AAAA for an IPv6 target) to the source's resolver or
the named server. An answer lists the addresses; with `to:`, the target's must be one."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netcheck.model.plan import Expectation
from netcheck.model.results import Observation, ProbeResult
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds._results import result
from netcheck.probes.kinds.base import Argument, BaseKind, Kind, Syntax, destination
from netcheck.probes.kinds.udp import UDP_COUNTERS
from netcheck.probes.route import RouteInfo

if TYPE_CHECKING:
    from scapy.packet import Packet as ScapyPacket

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


class Dns(BaseKind):
    word = "dns"
    syntax = Syntax(argument=Argument.NAME, order=50)
    asks_server = True
    ip_proto = "udp"  # a query is a UDP datagram to port 53
    counters = UDP_COUNTERS

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        from scapy.layers.dns import DNS, DNSQR
        from scapy.layers.inet import UDP

        from netcheck.probes.kinds._common import chain, l3_header

        l3, _ = l3_header(task, route, seq)
        v6_target = isinstance(task.target_address, ipaddress.IPv6Address)
        qtype = "AAAA" if v6_target and task.dns_server is not None else "A"
        qname = task.probe.qname or task.target
        query = DNS(id=ident, rd=1, qd=DNSQR(qname=qname, qtype=qtype))
        return chain(l3, UDP(sport=sport, dport=53), query)

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        from netcheck.probes.kinds._common import classify_l3

        return classify_l3(
            task, route, sent, replies, timeout=timeout, t0=t0,
            waiting_for="DNS reply", where=str(destination(task)), port_closed=True,
            read=_read,
        )

    def wrong_answer(self, exp: Expectation, result: ProbeResult) -> str | None:
        """A dns expectation with `to` wants that node's address among the answers."""
        if exp.target.node == exp.source:
            return None
        want = str(result.target_address)
        if want in result.answered_by:
            return None
        got = ", ".join(result.answered_by) or "no address"
        whose = "" if exp.target.literal and exp.target.node == want else f"{exp.target.node}'s "
        return f"{exp.probe.qname} resolved to {got}, not to {whose}{want}"


def _read(
    task: ProbeTask, route: RouteInfo, reply: ScapyPacket, who: str, in_ms: str,
    kw: dict[str, Any],
) -> ProbeResult | None:
    # UDP replies are not dissected as DNS by scapy in the worker (reset_scapy): parsed here.
    from scapy.layers.dns import DNS
    from scapy.layers.inet import UDP


    if UDP not in reply:
        return None
    qname = task.probe.qname or task.target
    try:
        dns = DNS(bytes(reply[UDP].payload))
    except Exception:  # a reply that is not DNS at all
        return result(
            task, route, Observation.DNS_ERROR, f"reply from {who} is not a DNS message", **kw
        )
    rcode = int(dns.rcode)
    name = DNS_RCODES.get(rcode, f"RCODE{rcode}")
    if rcode != 0:
        kw["answered_by"] = (who,)
        return result(task, route, Observation.DNS_ERROR, f"{name} for {qname} from {who}", **kw)
    addresses: list[str] = []
    for rr in dns.an or []:
        if int(getattr(rr, "type", 0)) in (1, 28):
            addresses.append(str(rr.rdata))
    if not addresses:
        kw["answered_by"] = (who,)
        return result(
            task,
            route,
            Observation.DNS_ERROR,
            f"NOERROR without addresses (NODATA) for {qname} from {who}",
            **kw,
        )
    kw["answered_by"] = tuple(addresses)
    listed = ", ".join(addresses)
    return result(
        task, route, Observation.ANSWERED, f"{qname} -> {listed} (server {who}{in_ms})", **kw
    )


KIND: Kind = Dns()
