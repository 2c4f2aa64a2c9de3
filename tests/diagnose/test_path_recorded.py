"""The packet-path walk against recorded fault runs (no root): every silent probe of every
recording says where its packet died, consistently with its findings, and the rp_filter
drops of rp-filter-transit are placed on the right hop in each of their three shapes."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from netcheck.diagnose import Diagnosis, diagnose_all, live_factory
from netcheck.diagnose.live import LiveState
from netcheck.diagnose.recorded import Recording
from netcheck.engine.judge import judge
from netcheck.model.results import HopState, Verdict
from netcheck.scenario import load_plan
from tests.diagnose.pathcheck import WALKED, check_path
from tests.helpers import ROOT

DATA = Path(__file__).parent / "data"
# Recordings made since the walk re-sends probes (older ones hold no re-send to replay).
WALKED_FIXTURES = sorted(
    p.stem for p in DATA.glob("*.json")
    if any(k.startswith('["resend"') for k in json.loads(p.read_text(encoding="utf-8"))["calls"]))


@cache
def verdicts(name: str) -> dict[str, Verdict]:
    rec = Recording.load(DATA / f"{name}.json")
    plan = load_plan(str(ROOT / rec.scenario), rec.variables)
    pairs = rec.pairs(plan)

    def factory(*_: object, **__: object) -> LiveState:
        return rec.live()

    token = live_factory.set(factory)
    try:
        got = diagnose_all(plan, rec.record.topology, pairs,  # type: ignore[arg-type]
                           window=rec.window)
    finally:
        live_factory.reset(token)
    out: dict[str, Verdict] = {}
    for exp, result in pairs:
        d = got.get(exp.id, Diagnosis())
        out[exp.id] = replace(judge(exp, result, d.findings), path=d.path)
    return out


def test_the_walk_is_recorded() -> None:
    assert {"rp-filter-transit", "no-route", "rp-filter-loose"} <= set(WALKED_FIXTURES)


@pytest.mark.parametrize("name", WALKED_FIXTURES)
def test_every_silent_probe_says_where_it_died(name: str) -> None:
    walked = [v for v in verdicts(name).values()
              if v.result is not None and v.result.observation in WALKED]
    for v in walked:
        check_path(v)


def _hops(v: Verdict) -> list[tuple[str, str, HopState]]:
    assert v.path is not None
    return [(h.direction, h.node, h.state) for h in v.path.hops]


@pytest.mark.parametrize(("probe", "target", "node"), [
    ("icmp", "t", "gw2"), ("tcp/80", "t", "gw2"), ("icmp", "c1", "h"), ("tcp/80", "c1", "h")])
def test_transit_drops_are_placed_on_the_router_that_drops(probe: str, target: str,
                                                          node: str) -> None:
    """Same fault, other shapes: a router (gw2) or a forwarding container host (h) drops
    the forwarded request; r1 before it also receives on a device named eth0 and must not
    be blamed, and the target never got it."""
    v = verdicts("rp-filter-transit")[f"{probe}:m->{target}"]
    assert _hops(v) == [("request", "m", HopState.SEEN), ("request", "r1", HopState.SEEN),
                        ("request", node, HopState.DROPPED),
                        ("request", target, HopState.NOT_REACHED)]
    assert v.path is not None and v.path.dropped_at is not None
    assert v.path.dropped_at.reason == "IP_RPFILTER"
    assert v.findings[0].id == "rp-filter"
    assert v.findings[0].confirmed_by == f"the drop at {node} (IP_RPFILTER)"


@pytest.mark.parametrize("probe", ["icmp", "tcp/80"])
def test_a_reply_dropped_on_the_way_back_is_placed_on_the_reply(probe: str) -> None:
    """c1 -> t: the request reaches t (seen there); the reply comes back the long way and
    dies on h's eth0, not t's (both are eth0; h's rp_filter counter ties it)."""
    v = verdicts("rp-filter-transit")[f"{probe}:c1->t"]
    hops = _hops(v)
    assert hops[:3] == [("request", "c1", HopState.SEEN), ("request", "h", HopState.SEEN),
                        ("request", "t", HopState.SEEN)]
    assert ("reply", "h", HopState.DROPPED) in hops
    assert v.findings[0].confirmed_by == "the drop at h (IP_RPFILTER)"


def test_a_refused_probe_is_seen_back_at_its_own_socket() -> None:
    """The RST reached the probe's raw socket; the source kernel then frees it (NO_SOCKET),
    which is no drop of the probe's."""
    v = verdicts("filtered")["tcp/6543:app2->db"]
    assert _hops(v) == [("request", "app2", HopState.SEEN), ("request", "db", HopState.SEEN),
                        ("reply", "app2", HopState.SEEN)]
    v = verdicts("filtered")["tcp/5432:app1->db"]
    assert v.path is not None and v.path.dropped_at is not None
    assert v.path.dropped_at.reason == "NETFILTER_DROP"
    assert v.findings[0].confirmed_by == "the drop at db (NETFILTER_DROP)"


def test_other_shapes_of_filtered_and_no_forwarding_name_the_transit_host() -> None:
    """Hunting in other shapes (data/hunt/transit-shapes.yaml): a FORWARD drop and
    ip_forward=0 on a host between two routers, not on the lab router or the target. No
    rule names them yet (filtered and no-forwarding look at the lab router); the path
    does, and never blames r1, which also receives on a device named eth0."""
    got = verdicts("hunt/transit-shapes")
    for exp_id, node, reason in (("icmp:m->t", "gw2", "NETFILTER_DROP"),
                                 ("icmp:m->t3", "gw3", "IP_INADDRERRORS"),
                                 ("tcp/80:m->t3", "gw3", "IP_INADDRERRORS")):
        v = got[exp_id]
        check_path(v)
        assert v.path is not None and v.path.dropped_at is not None, exp_id
        assert (v.path.dropped_at.node, v.path.dropped_at.reason) == (node, reason)
        assert [h.state for h in v.path.hops][:2] == [HopState.SEEN, HopState.SEEN]
    assert got["tcp/80:m->t"].path is None  # answered: nothing to walk
