"""Literal targets (`to: ADDRESS`, `targets:`) and pinned sources (`from: c1@net`, `source:`):
expansion, ids, warnings and errors."""

from __future__ import annotations

import fnmatch
import ipaddress

from netcheck.engine.plan_tasks import select
from netcheck.model.plan import Target
from tests.scenario.conftest import Fail, Load

TOPOLOGY = """
    name: t
    lab:
      lans:
        lan: {subnet: 10.0.0.0/24, gateway: 10.0.0.1}
        far: {subnet: 10.20.0.0/24, gateway: 10.20.0.1}
      router: {}
      machines:
        db: {lan: far, ip: 10.20.0.5, listen: [tcp/5432]}
        pc: {lan: lan, ip: 10.0.0.9, routes: ["192.168.50.0/24 via 10.0.0.1"]}
    networks:
      front: {subnets: [{subnet: 10.10.0.0/24}]}
      back:
        subnets: [{subnet: 10.30.0.0/24}, {subnet: "fd00:30::/64"}]
      inner: {internal: true, subnets: [{subnet: 10.40.0.0/24}]}
    endpoints:
      a: {networks: {front: {ip: 10.10.0.5}, back: {ip: 10.30.0.5}}}
      b: {networks: [front]}
      iso: {networks: {inner: {ip: 10.40.0.7}}}
"""


def scenario(expectations: str, extra: str = "") -> str:
    return TOPOLOGY + extra + "    expectations:\n" + "\n".join(
        "      " + line for line in expectations.strip("\n").splitlines()
    )


NAMED = """    targets:
      pg: {address: 10.20.0.5, description: the database}
      gw6: {address: "fd00:30::1"}
"""


def test_literal_and_named_targets_get_ids_by_name_or_address(load: Load) -> None:
    plan = load(scenario("""
        - from: a
          to: [10.20.0.5, pg, "fd00:30::0001"]
          probe: [icmp, tcp/5432]
    """, NAMED))
    assert [e.id for e in plan.expectations] == [
        "icmp:a->10.20.0.5", "icmp:a->pg", "icmp:a->fd00:30::1",
        "tcp/5432:a->10.20.0.5", "tcp/5432:a->pg", "tcp/5432:a->fd00:30::1",
    ]
    first = plan.expectations[0]
    assert first.target == Target(node="10.20.0.5", address=ipaddress.ip_address("10.20.0.5"))
    assert first.target.literal
    assert plan.expectations[1].target.address == ipaddress.ip_address("10.20.0.5")
    assert [(t.name, str(t.address), t.description) for t in plan.targets] == [
        ("pg", "10.20.0.5", "the database"), ("gw6", "fd00:30::1", None),
    ]
    assert plan.warnings == ()


def test_ipv6_ids_work_with_only_globs(load: Load) -> None:
    plan = load(scenario("""
        - from: a
          to: ["fd00:30::1", 10.20.0.5]
          probe: icmp
    """))
    ids = [e.id for e in plan.expectations]
    assert "icmp:a->fd00:30::1" in ids
    # No brackets: the glob has no character class to trip on.
    assert [e.id for e in select(plan.expectations, ["icmp:a->fd00:*"])] == [
        "icmp:a->fd00:30::1"
    ]
    assert fnmatch.fnmatchcase("icmp:a->fd00:30::1", "icmp:a->fd00:30::1")
    probe, _, rest = ids[0].partition(":")
    assert (probe, rest.partition("->")[2]) == ("icmp", "fd00:30::1")


def test_pinned_sources_are_in_the_id(load: Load) -> None:
    plan = load(scenario("""
        - from: a@back
          to: [b, db]
          probe: icmp
        - from: a
          source: 10.10.0.5
          to: db
          probe: icmp
        - from: pc@lan
          to: db
          probe: icmp
    """))
    assert [e.id for e in plan.expectations] == [
        "icmp:a@back->b", "icmp:a@back->db", "icmp:a@10.10.0.5->db", "icmp:pc@lan->db",
    ]
    pinned = plan.expectations[0]
    assert (pinned.source, pinned.source_via, pinned.source_address) == ("a", "back", None)
    by_addr = plan.expectations[2]
    assert by_addr.source_address == ipaddress.ip_address("10.10.0.5")
    assert by_addr.source_label == "a@10.10.0.5"


def test_source_from_ipam_is_left_to_the_run(load: Load) -> None:
    # b's address on front comes from IPAM: any address inside front may turn out to be it.
    plan = load(scenario("""
        - {from: b, source: 10.10.0.77, to: db, probe: icmp}
    """))
    assert plan.expectations[0].id == "icmp:b@10.10.0.77->db"


def test_source_outside_every_network_of_an_ipam_node_is_an_error(fail: Fail) -> None:
    errors = fail(scenario("""
        - {from: b, source: 10.99.0.1, to: db, probe: icmp}
    """))
    assert "expectations[0].source: 10.99.0.1 is not an address of b" in str(errors)


def test_unreachable_literal_warns_with_its_line(load: Load) -> None:
    plan = load(scenario("""
        - from: [a, pc]
          to: 172.31.9.9
          probe: icmp
    """))
    assert len(plan.expectations) == 2  # a warning, not an error
    texts = [str(w) for w in plan.warnings]
    assert len(texts) == 2
    assert texts[0].endswith(
        "expectations[0].to: 172.31.9.9 is outside every network a is on "
        "(front 10.10.0.0/24, back 10.30.0.0/24, back fd00:30::/64) and no route of a "
        "covers it. Check the address, or declare the route (routes: on the node)"
    )
    line = plan.warnings[0].location.line
    # TOPOLOGY's first newline is stripped: `expectations:`, `- from:`, then `to:`.
    assert line == TOPOLOGY.count("\n") + 2


def test_no_warning_where_a_route_or_gateway_reaches(load: Load) -> None:
    plan = load(scenario("""
        - {from: pc, to: 192.168.50.7, probe: icmp}   # pc's declared route
        - {from: a, to: 10.20.0.9, probe: icmp}       # a lab LAN, via a's gateway
        - {from: a, to: 10.30.0.200, probe: icmp}     # on-link
    """))
    assert plan.warnings == ()


def test_internal_network_has_no_gateway_to_route_through(load: Load) -> None:
    plan = load(scenario("""
        - {from: iso, to: pg, probe: icmp, reachable: false}
    """, NAMED))
    assert [w.message.split(" is outside")[0] for w in plan.warnings] == ["10.20.0.5 (pg)"]


def test_pinned_source_narrows_the_on_link_check(load: Load, fail: Fail) -> None:
    plan = load(scenario("""
        - {from: a@front, to: 10.30.0.9, probe: icmp}
    """))
    assert plan.warnings == ()  # a's gateway on front forwards to back
    errors = fail(scenario("""
        - {from: a@front, to: 10.30.0.9, probe: arp}
    """))
    assert "arp asks only on-link addresses: 10.30.0.9 is on no network a is on" \
        in str(errors)
    plan = load(scenario("""
        - {from: a@back, to: 10.30.0.9, probe: arp}
    """))
    assert plan.expectations[0].id == "arp:a@back->10.30.0.9"


def test_dns_server_may_be_a_literal_address(load: Load) -> None:
    plan = load(scenario("""
        - {from: a, server: 10.20.0.53, probe: dns/db.example}
        - {from: a, server: pg, to: b, probe: dns/b.example}
    """, NAMED))
    first, second = plan.expectations
    assert first.id == "dns/db.example:a"
    assert first.dns_server_address == ipaddress.ip_address("10.20.0.53")
    assert second.id == "dns/b.example:a->b"
    assert second.dns_server_address == ipaddress.ip_address("10.20.0.5")


def test_unknown_name_hint_mentions_targets(fail: Fail) -> None:
    errors = fail(scenario("""
        - {from: a, to: pgg, probe: icmp}
    """, NAMED))
    assert "unknown node 'pgg'. Did you mean 'pg'?" in str(errors)


def test_family_pin_is_for_targets_only(fail: Fail) -> None:
    errors = fail(scenario("""
        - {from: a@ipv6, to: b, probe: icmp}
    """))
    assert "expectations[0].from: 'a' is not on 'ipv6'" in str(errors)
