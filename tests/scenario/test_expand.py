"""Group forms, ids, dns expectations and their errors."""

from __future__ import annotations

from netcheck.model.plan import ProbeKind, Target
from tests.scenario.conftest import Fail, Load

TOPOLOGY = """
    name: t
    lab:
      lans:
        lan: {subnet: 10.0.0.0/24, gateway: 10.0.0.1}
      router: {}
      machines:
        nas: {lan: lan, ip: 10.0.0.20, listen: [tcp/445]}
    networks:
      front: {subnets: [{subnet: 10.10.0.0/24}]}
      back: {subnets: [{subnet: 10.20.0.0/24}]}
    endpoints:
      a: {networks: [front]}
      b: {networks: [front, back]}
      c: {networks: [back]}
      d: {networks: [back]}
"""


def with_expectations(text: str) -> str:
    return TOPOLOGY + "    expectations:\n" + "\n".join(
        "      " + line for line in text.strip("\n").splitlines()
    )


def test_pair_is_a_cartesian_product_without_self_pairs(load: Load) -> None:
    plan = load(with_expectations("""
        - from: [a, b]
          to: [a, b, c]
          probe: [icmp, udp/53]
    """))
    assert [e.id for e in plan.expectations] == [
        "icmp:a->b", "icmp:a->c", "icmp:b->a", "icmp:b->c",
        "udp/53:a->b", "udp/53:a->c", "udp/53:b->a", "udp/53:b->c",
    ]
    assert all(e.reachable for e in plan.expectations)


def test_mesh_is_every_ordered_pair(load: Load) -> None:
    plan = load(with_expectations("""
        - mesh: [a, b, c]
          probe: arp
    """))
    assert [e.id for e in plan.expectations] == [
        "arp:a->b", "arp:a->c", "arp:b->a", "arp:b->c", "arp:c->a", "arp:c->b",
    ]


def test_isolated_is_every_cross_pair_both_ways_unreachable(load: Load) -> None:
    plan = load(with_expectations("""
        - isolated: [[a, b], c]
          probe: icmp
          reason: no-route
          description: front and back do not meet
    """))
    assert sorted(e.id for e in plan.expectations) == sorted(
        ["icmp:a->c", "icmp:b->c", "icmp:c->a", "icmp:c->b"]
    )
    for exp in plan.expectations:
        assert exp.reachable is False
        assert exp.reason == "no-route"
        assert exp.description == "front and back do not meet"


def test_target_pinned_to_a_network(load: Load) -> None:
    plan = load(with_expectations("""
        - from: a
          to: [b@front, nas@lan, router@lan]
          probe: icmp/df/1400
    """))
    ids = [e.id for e in plan.expectations]
    assert ids == ["icmp/df/1400:a->b@front", "icmp/df/1400:a->nas@lan",
                   "icmp/df/1400:a->router@lan"]
    first = plan.expectations[0]
    assert first.target == Target(node="b", via="front")
    assert first.probe.kind is ProbeKind.ICMP and first.probe.size == 1400


def test_probe_mapping_form(load: Load) -> None:
    plan = load(with_expectations("""
        - from: a
          to: b
          probe:
            - {kind: icmp, df_size: 1200}
            - {kind: tcp, port: 8080}
            - {kind: dns, name: b}
    """))
    assert [e.id for e in plan.expectations] == [
        "icmp/df/1200:a->b", "tcp/8080:a->b", "dns/b:a->b",
    ]


def test_dns_server_is_where_to_ask_and_to_is_the_expected_answer(load: Load) -> None:
    plan = load(with_expectations("""
        - from: [a, b]
          probe: dns/c
        - from: a
          server: nas
          probe: dns/example.lan
        - from: c
          to: d
          probe: dns/d
        - from: a
          to: c
          server: nas
          probe: dns/c
    """))
    by_id = {e.id: e for e in plan.expectations}
    assert list(by_id) == ["dns/c:a", "dns/c:b", "dns/example.lan:a", "dns/d:c->d", "dns/c:a->c"]
    # No server: the source's own resolver; no `to`: any answer will do.
    assert by_id["dns/c:a"].dns_server is None
    assert by_id["dns/c:a"].target == Target(node="a")
    assert by_id["dns/c:a"].probe.qname == "c"
    assert by_id["dns/example.lan:a"].dns_server == "nas"
    assert by_id["dns/d:c->d"].dns_server is None
    assert by_id["dns/d:c->d"].target == Target(node="d")
    assert by_id["dns/c:a->c"].dns_server == "nas"


def test_locations_point_at_the_yaml_item(load: Load) -> None:
    plan = load(with_expectations("""
        - mesh: [a, b]
          probe: icmp
        - from: c
          to: d
          probe: icmp
    """))
    lines = {e.id: e.location.line for e in plan.expectations if e.location}
    assert lines == {"icmp:a->b": 17, "icmp:b->a": 17, "icmp:c->d": 19}


def test_duplicates_across_forms_are_errors(fail: Fail) -> None:
    errors = fail(with_expectations("""
        - mesh: [a, b]
          probe: icmp
        - from: b
          to: a
          probe: icmp
    """))
    (err,) = errors.errors
    assert err.location.line == 19
    assert "check 'icmp:b->a' is already defined by the expectation at line 17" in str(err)


def test_all_self_pairs_is_an_error(fail: Fail) -> None:
    errors = fail(with_expectations("""
        - from: a
          to: a
          probe: icmp
    """))
    assert "this expectation expands to no checks" in str(errors)


def test_several_independent_errors_are_collected(fail: Fail) -> None:
    errors = fail(with_expectations("""
        - from: zz
          to: b
          probe: icmp
        - from: a
          to: c@front
          probe: icmp
        - mesh: [a, a]
          probe: icmp
    """))
    messages = [str(e) for e in errors.errors]
    assert len(messages) == 3
    assert "unknown node 'zz'" in messages[0]
    assert "expectations[1].to: 'c' is not on 'front'. c is on 'back'" in messages[1]
    assert "'a' listed twice" in messages[-1]


