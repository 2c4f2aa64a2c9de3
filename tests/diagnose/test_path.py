"""The packet-path walk: the kernel's route hop by hop, judged by what moved in each
namespace while the probe was re-sent alone. Synthetic state here; the recorded fault runs
in test_path_recorded.py."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence

import pytest

from netcheck.diagnose import Case, Explained, diagnose_all
from netcheck.diagnose import base as diagnose_base
from netcheck.diagnose.live import Resent
from netcheck.diagnose.path import walk
from netcheck.diagnose.tracefs import Drop
from netcheck.model.plan import Lab, Plan, ProbeKind, ProbeSpec
from netcheck.model.results import Finding, HopState, NodeKind, Observation, Topology
from netcheck.probes.base import ProbeTask
from tests.diagnose.stubs import StubLive, node, pair

ICMP = ProbeSpec(kind=ProbeKind.ICMP)
PLAN = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=(), endpoints=(),
            expectations=())
NS = "/run/netns/t-"
# m (LAN a) -> r1 -> gw2 -> t (LAN e): both routers receive on a device named eth0.
TOPO = Topology(run_id="abcdef", runtime="netns", nodes={
    "m": node("m", ("eth0", "a", "10.0.1.10", "10.0.1.0/24")),
    "r1": node("r1", ("eth0", "a", "10.0.1.1", "10.0.1.0/24"),
               ("eth1", "b", "10.0.2.1", "10.0.2.0/24"), kind=NodeKind.ROUTER),
    "gw2": node("gw2", ("eth0", "b", "10.0.2.2", "10.0.2.0/24"),
                ("eth1", "e", "10.0.5.1", "10.0.5.0/24"), kind=NodeKind.HOST),
    "t": node("t", ("eth0", "e", "10.0.5.20", "10.0.5.0/24")),
})
RPF = Drop(time=1.0, reason="IP_RPFILTER", location="ip_rcv_finish_core+0x260/0x470",
           protocol="IPv4", dev="eth0")


class PathLive(StubLive):
    """StubLive with the route m -> r1 -> gw2 -> t and a canned re-send."""

    def __init__(self, deltas: dict[str, dict[str, int]], drops: Sequence[Drop] = (),
                 gw2_refuses: bool = True) -> None:
        super().__init__()
        self.deltas = deltas
        self.drops = tuple(drops)
        self.noise: dict[str, dict[str, int]] = {}
        self.sent: list[ProbeTask] = []
        self.route(NS + "m", "10.0.5.20", "via 10.0.1.1", src="10.0.1.10", gateway="10.0.1.1")
        self.route(NS + "r1", "10.0.5.20", "via 10.0.2.2", src="10.0.1.10", iif="eth0",
                   gateway="10.0.2.2")
        if gw2_refuses:
            self.route(NS + "gw2", "10.0.5.20", "error EINVAL", src="10.0.1.10", iif="eth0",
                       errno=22)
        else:
            self.route(NS + "gw2", "10.0.5.20", "dev eth1", src="10.0.1.10", iif="eth0")
        self.route(NS + "t", "10.0.1.10", "via 10.0.5.1", src="10.0.5.20", gateway="10.0.5.1")
        self.route(NS + "gw2", "10.0.1.10", "via 10.0.2.1", src="10.0.5.20", iif="eth1",
                   gateway="10.0.2.1")
        self.route(NS + "r1", "10.0.1.10", "dev eth0", src="10.0.5.20", iif="eth1")

    def resend(self, run_id: str, task: ProbeTask, namespaces: Sequence[str]) -> Resent:
        self.sent.append(task)
        return Resent(result=None, deltas={k: v for k, v in self.deltas.items()
                                           if k in namespaces},
                      drops=self.drops, traced=True, noise=self.noise)


def case(live: StubLive, observation: Observation = Observation.SILENT) -> Case:
    exp, result = pair("m", "t", "10.0.5.20", ICMP, observation)
    return Case(expectation=exp, result=result, plan=PLAN, topology=TOPO, live=live)


def states(c: Case) -> list[tuple[str, str, HopState]]:
    path = walk(c)
    assert path is not None
    return [(h.direction, h.node, h.state) for h in path.hops]


def test_a_drop_on_a_device_name_two_routers_share_is_tied_by_the_counter() -> None:
    """The wrong explanation found first: r1 and gw2 both receive on `eth0`, the trace names
    only the device, and r1 got blamed because it received packets too. gw2's own
    TcpExt.IPReversePathFilter ties the drop to gw2."""
    live = PathLive({
        NS + "m": {"Ip.OutTransmits": 1},
        NS + "r1": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
        NS + "gw2": {"Ip.InReceives": 1, "TcpExt.IPReversePathFilter": 1},
        NS + "t": {},
    }, [RPF])
    c = case(live)
    assert states(c) == [("request", "m", HopState.SEEN), ("request", "r1", HopState.SEEN),
                         ("request", "gw2", HopState.DROPPED),
                         ("request", "t", HopState.NOT_REACHED)]
    path = walk(c)
    assert path is not None and path.dropped_at is not None
    assert path.dropped_at.reason == "IP_RPFILTER"
    assert "TcpExt.IPReversePathFilter moved in this namespace" in path.dropped_at.evidence[0]
    assert live.sent and live.sent[0].probe_id.endswith("#path")


def test_without_a_tying_counter_the_drop_goes_to_the_last_that_received_it() -> None:
    live = PathLive({
        NS + "m": {"Ip.OutTransmits": 1},
        NS + "r1": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
        NS + "gw2": {"Ip.InReceives": 1},
        NS + "t": {},
    }, [Drop(time=1.0, reason="NETFILTER_DROP", location="nf_hook_slow+0x1/0x2",
             protocol="IPv4", dev="eth0")])
    path = walk(case(live))
    assert path is not None and path.dropped_at is not None
    assert path.dropped_at.node == "gw2"
    assert "the last on the path that received the packet" in path.dropped_at.evidence[0]


def test_nothing_is_seen_because_a_later_hop_was() -> None:
    """A hop is seen only by its own counters; unreadable is 'not observed', read and quiet
    is 'never reached'."""
    live = PathLive({
        NS + "m": {"Ip.OutTransmits": 1},
        NS + "gw2": {},  # r1 unreadable; gw2 read, nothing moved
        NS + "t": {},
    })
    assert states(case(live)) == [
        ("request", "m", HopState.SEEN), ("request", "r1", HopState.NOT_OBSERVED),
        ("request", "gw2", HopState.NOT_REACHED), ("request", "t", HopState.NOT_REACHED)]


def test_a_drop_counter_without_a_trace_marks_the_last_hop_that_got_it() -> None:
    live = PathLive({
        NS + "m": {"Ip.OutTransmits": 1},
        NS + "r1": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
        NS + "gw2": {"Ip.InReceives": 1, "TcpExt.IPReversePathFilter": 1},
        NS + "t": {},
    })
    path = walk(case(live))
    assert path is not None and path.dropped_at is not None
    assert path.dropped_at.node == "gw2" and path.dropped_at.reason is None
    assert path.dropped_at.counter == "TcpExt.IPReversePathFilter +1"


def test_a_request_that_arrived_walks_the_reply_back() -> None:
    live = PathLive({
        NS + "m": {"Ip.OutTransmits": 1},
        NS + "r1": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
        NS + "gw2": {"Ip.InReceives": 2, "Ip.ForwDatagrams": 2},
        NS + "t": {"Ip.InReceives": 1, "Icmp.InEchos": 1},
    }, gw2_refuses=False)
    got = states(case(live))
    assert got[:4] == [("request", "m", HopState.SEEN), ("request", "r1", HopState.SEEN),
                       ("request", "gw2", HopState.SEEN), ("request", "t", HopState.SEEN)]
    # The reply crosses gw2 and r1 again: their counters count the request as well, so
    # they cannot say the reply passed (not observed, never "seen"); m received nothing.
    assert got[4:] == [("reply", "gw2", HopState.NOT_OBSERVED),
                       ("reply", "r1", HopState.NOT_OBSERVED),
                       ("reply", "m", HopState.NOT_REACHED)]


def test_arp_and_ipv6_move_no_counter_so_hops_are_not_observed() -> None:
    live = PathLive({NS + "m": {"Ip.OutTransmits": 1}, NS + "t": {}})
    exp, result = pair("m", "t", "10.0.5.20", ProbeSpec(kind=ProbeKind.ARP), Observation.SILENT)
    path = walk(Case(expectation=exp, result=result, plan=PLAN, topology=TOPO, live=live))
    assert path is not None
    assert {h.state for h in path.hops} == {HopState.NOT_OBSERVED}


def test_answered_and_unaddressed_probes_have_no_path() -> None:
    assert walk(case(PathLive({}), Observation.ANSWERED)) is None
    assert walk(case(PathLive({}), Observation.ERROR)) is None


class SaysArrives:
    id = "says-arrives"

    def explain(self, case: Case) -> Explained:
        f = Finding(id=self.id, summary="requests arrive at t, replies cannot leave",
                    evidence=("t: route get: error",))
        return Explained(finding=f, arrives=("t",), at="t")


class SaysGw2:
    id = "says-gw2"

    def explain(self, case: Case) -> Explained:
        f = Finding(id=self.id, summary="gw2 drops it", evidence=("counter",))
        return Explained(finding=f, at="gw2")


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(diagnose_base, "_REGISTRY", {})
    yield


def _diagnose(live: StubLive) -> tuple[list[Finding], object]:
    import netcheck.diagnose as d

    token = d.live_factory.set(lambda *a, **k: live)
    try:
        exp, result = pair("m", "t", "10.0.5.20", ICMP, Observation.SILENT)
        got = diagnose_all(PLAN, TOPO, [(exp, result)])[exp.id]
    finally:
        d.live_factory.reset(token)
    return list(got.findings), got.path


def test_requests_arrive_is_not_said_unless_the_walk_saw_one_there(only: None) -> None:
    diagnose_base.register(SaysArrives.id, SaysArrives)
    quiet_t = {NS + "m": {"Ip.OutTransmits": 1}, NS + "r1": {"Ip.InReceives": 1},
               NS + "gw2": {"Ip.InReceives": 1, "TcpExt.IPReversePathFilter": 1}, NS + "t": {}}
    findings, _ = _diagnose(PathLive(quiet_t, [RPF]))
    assert findings == []
    arrived = {NS + "m": {"Ip.OutTransmits": 1}, NS + "r1": {"Ip.InReceives": 1},
               NS + "gw2": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
               NS + "t": {"Ip.InReceives": 1, "Ip.OutNoRoutes": 1}}
    findings, _ = _diagnose(PathLive(arrived, gw2_refuses=False))
    assert [f.id for f in findings] == ["says-arrives"]
    # t got it and could not route the reply: dropped there, and the finding is confirmed.
    assert findings[0].confirmed_by == "the drop at t"


def test_the_finding_placed_at_the_drop_is_marked_confirmed(only: None) -> None:
    diagnose_base.register(SaysGw2.id, SaysGw2)
    diagnose_base.register(SaysArrives.id, SaysArrives)
    deltas = {NS + "m": {"Ip.OutTransmits": 1}, NS + "r1": {"Ip.InReceives": 1},
              NS + "gw2": {"Ip.InReceives": 1, "TcpExt.IPReversePathFilter": 1}, NS + "t": {}}
    findings, _ = _diagnose(PathLive(deltas, [RPF]))
    assert [(f.id, f.confirmed_by) for f in findings] == [
        ("says-gw2", "the drop at gw2 (IP_RPFILTER)")]


def test_addresses_no_node_holds_end_the_walk() -> None:
    live = PathLive({NS + "m": {"Ip.OutTransmits": 1}})
    live.route(NS + "m", "10.0.5.20", "via 10.0.1.99", src="10.0.1.10", gateway="10.0.1.99")
    path = walk(case(live))
    assert path is not None
    assert [h.node for h in path.hops] == ["m", str(ipaddress.ip_address("10.0.1.99"))]
    assert path.hops[-1].state is HopState.NOT_OBSERVED


class SaysR1:
    id = "says-r1"

    def explain(self, case: Case) -> Explained:
        f = Finding(id=self.id, summary="r1 drops it", evidence=("iptables FORWARD DROP +3",))
        return Explained(finding=f, at="r1")


def test_a_drop_placed_on_a_node_the_packet_got_past_is_not_said(only: None) -> None:
    """r1's firewall counters moved (for another probe, earlier in the run), but this
    probe's packet was seen on r1 and then on gw2: r1 did not drop it."""
    diagnose_base.register(SaysR1.id, SaysR1)
    diagnose_base.register(SaysGw2.id, SaysGw2)
    deltas = {NS + "m": {"Ip.OutTransmits": 1},
              NS + "r1": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
              NS + "gw2": {"Ip.InReceives": 1, "TcpExt.IPReversePathFilter": 1}, NS + "t": {}}
    findings, _ = _diagnose(PathLive(deltas, [RPF]))
    assert [f.id for f in findings] == ["says-gw2"]


def test_a_namespace_busy_with_nothing_sent_is_not_observed() -> None:
    """t's counters moved over the control wait too (a listener retransmitting): its
    delta during the re-send is no evidence that this packet got there."""
    live = PathLive({NS + "m": {"Ip.OutTransmits": 1},
                     NS + "r1": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
                     NS + "gw2": {"Ip.InReceives": 1, "Ip.ForwDatagrams": 1},
                     NS + "t": {"Ip.InReceives": 2}}, gw2_refuses=False)
    live.noise = {NS + "t": {"Ip.InReceives": 1}}
    got = states(case(live))
    assert got[3] == ("request", "t", HopState.NOT_OBSERVED)
    path = walk(case(live))
    assert path is not None and "other traffic there" in path.hops[3].evidence[0]


def test_broadcast_and_multicast_traffic_is_no_sign_of_the_probe() -> None:
    """Ip.InReceives counts any IPv4 packet (a broadcast, an IGMP report): the target is
    seen only by a request of the probe's kind (Icmp.InEchos), a router by forwarding."""
    live = PathLive({NS + "m": {"Ip.OutTransmits": 1},
                     NS + "r1": {"Ip.InReceives": 3},
                     NS + "gw2": {"Ip.InReceives": 1},
                     NS + "t": {"Ip.InReceives": 2}}, gw2_refuses=False)
    assert states(case(live)) == [
        ("request", "m", HopState.SEEN), ("request", "r1", HopState.NOT_REACHED),
        ("request", "gw2", HopState.NOT_REACHED), ("request", "t", HopState.NOT_REACHED)]
