"""arp: ARP request / NDP solicitation on the link; one MAC answers, several conflict."""

from __future__ import annotations

import ipaddress

from scapy.compat import raw
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.probes.kinds import kind_for
from netcheck.probes.kinds.arp import BROADCAST, KIND
from tests.probes.kinds._helpers import DST, DST6, MAC, SRC, SRC6, T0, received, route, sent, task

ARP_SPEC = ProbeSpec(kind=ProbeKind.ARP)


def test_registered_on_the_link_layer() -> None:
    assert kind_for("arp") is KIND
    assert KIND.link_layer and not KIND.needs_listener and not KIND.asks_server


def test_only_an_on_link_target_can_be_asked() -> None:
    assert KIND.route_error(task(ARP_SPEC), route()) is None
    via = route(gateway=ipaddress.ip_address("10.0.0.254"))
    assert KIND.route_error(task(ARP_SPEC), via) == (
        f"target not on-link for ARP ({DST} is via 10.0.0.254)"
    )
    local = route(local=True)
    assert KIND.route_error(task(ARP_SPEC), local) == (
        f"target not on-link for ARP ({DST} is a local address)"
    )


def test_arp_request_and_neighbour_solicitation() -> None:
    req = sent(KIND, task(ARP_SPEC))
    assert req[Ether].dst == BROADCAST and req[Ether].src == MAC
    assert (req[ARP].op, req[ARP].psrc, req[ARP].pdst) == (1, SRC, DST)
    ns = sent(KIND, task(ARP_SPEC, dst=DST6), route(SRC6))
    assert ns[ICMPv6ND_NS].tgt == DST6
    assert ns[IPv6].dst == "ff02::1:ff00:2" and ns[Ether].dst == "33:33:ff:00:00:02"
    ev = KIND.evidence(ns, T0, sent=True)
    assert (ev.src, ev.dst) == (MAC, "ff02::1:ff00:2")


def test_ndp_advertisement_answers_and_two_macs_conflict() -> None:
    t = task(ARP_SPEC, dst=DST6)
    probe = sent(KIND, t, route(SRC6))
    na = [
        received(Ether(src=mac, dst=MAC) / IPv6(src=DST6, dst=SRC6)
                 / ICMPv6ND_NA(tgt=DST6) / ICMPv6NDOptDstLLAddr(lladdr=mac))
        for mac in ("02:00:00:00:00:AA", "02:00:00:00:00:bb")
    ]
    one = KIND.classify(t, route(SRC6), probe, na[:1], timeout=1.0, t0=T0)
    assert one.observation is Observation.ANSWERED
    assert one.answered_by == ("02:00:00:00:00:aa",)
    assert one.detail.startswith(f"{DST6} is at 02:00:00:00:00:aa (NDP reply")
    two = KIND.classify(t, route(SRC6), probe, na, timeout=1.0, t0=T0)
    assert two.observation is Observation.CONFLICT
    assert two.answered_by == ("02:00:00:00:00:aa", "02:00:00:00:00:bb")
    silent = KIND.classify(t, route(SRC6), probe, [], timeout=1.0, t0=T0)
    assert silent.detail == f"no NDP reply for {DST6} on eth0 within 1 s"


def test_evidence_of_an_arp_reply_is_the_sender_mac() -> None:
    mac = "02:00:00:00:00:cc"
    reply = received(Ether(src=mac, dst=MAC) / ARP(op=2, hwsrc=mac, psrc=DST, pdst=SRC))
    ev = KIND.evidence(reply, T0, sent=False)
    assert (ev.src, ev.dst, ev.time) == (mac, SRC, 0.003)
    assert raw(reply)  # a real frame, built from bytes
