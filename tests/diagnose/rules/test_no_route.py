"""no-route says "requests arrive" only when the target's own counters show it, and leaves
a request rp_filter dropped on arrival to rp-filter."""

from __future__ import annotations

import errno

from netcheck.diagnose import Case, Explained
from netcheck.diagnose.rules.no_route import NoRoute
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.plan import Lab, Plan, ProbeKind, ProbeSpec
from netcheck.model.results import Observation, Topology
from tests.diagnose.stubs import StubLive, node, pair

PLAN = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=(), endpoints=(),
            expectations=())
M1 = node("m1", ("eth0", "a", "10.0.1.10", "10.0.1.0/24"))
LEGACY = node("legacy", ("eth0", "b", "10.0.2.20", "10.0.2.0/24"))
TOPO = Topology(run_id="abcdef", runtime="netns", nodes={"m1": M1, "legacy": LEGACY})


def explain(deltas: dict[str, int]) -> Explained | None:
    live = StubLive(ProbeWindow(counter_deltas={LEGACY.netns: deltas}))
    live.route(LEGACY.netns, "10.0.1.10", "route get 10.0.1.10: error ENETUNREACH",
               src="10.0.2.20", errno=errno.ENETUNREACH)
    exp, res = pair("m1", "legacy", "10.0.2.20", ProbeSpec(kind=ProbeKind.ICMP),
                    Observation.SILENT)
    got = NoRoute().explain(Case(expectation=exp, result=res, plan=PLAN, topology=TOPO,
                                 live=live))
    assert got is None or isinstance(got, Explained)
    return got


def test_arrival_is_an_observation_at_the_target() -> None:
    got = explain({"Icmp.InEchos": 1, "Ip.InReceives": 1})
    assert got is not None
    assert got.finding.summary.endswith("requests arrive, replies cannot leave")
    assert "legacy: Icmp.InEchos +1 while the probes ran (requests received)" in \
        got.finding.evidence


def test_no_claim_without_an_observation() -> None:
    # Ip.InReceives alone also moves for a packet rp_filter drops right after.
    assert explain({"Ip.InReceives": 2}) is None


def test_an_rp_filter_drop_on_arrival_is_not_no_route() -> None:
    assert explain({"Icmp.InEchos": 0, "Ip.InReceives": 2,
                    "TcpExt.IPReversePathFilter": 2}) is None
