"""When a run is paced: the neighbour table's demand against its room (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.sites import NamespacePath
from netcheck.probes import pool
from netcheck.probes.base import ProbeTask


def mesh(n: int, *, v6: bool = False) -> list[ProbeTask]:
    base = ipaddress.ip_address("fd00::10" if v6 else "10.0.0.10")
    return [
        ProbeTask(probe_id=f"icmp:c{s}->c{d}", source=f"c{s}",
                  source_site=NamespacePath(path=f"/run/netns/c{s}"), target=f"c{d}",
                  target_address=base + d, probe=ProbeSpec(kind=ProbeKind.ICMP))
        for s in range(n) for d in range(n) if s != d
    ]


def test_demand_counts_each_source_and_destination_once_twice_over() -> None:
    tasks = mesh(4)
    twice = tasks + [t for t in tasks if t.source == "c0"]  # same pairs again: no new entries
    assert pool.neighbour_demand(twice) == {4: 4 * 3 * 2}
    assert pool.neighbour_demand(mesh(3, v6=True)) == {6: 3 * 2 * 2}


def test_pacing_only_when_the_table_would_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "neighbour_room", lambda: {4: 1000, 6: 1000})
    assert pool.pace_tokens(mesh(10)) == {}  # 180 entries fit
    tokens = pool.pace_tokens(mesh(40))  # 3120 do not
    assert tokens == {4: (1000 - pool.NEIGH_RESERVE) // pool.ENTRIES_PER_TOKEN}
    assert pool.pace_tokens(mesh(10), "always") == tokens
    assert pool.pace_tokens(mesh(40), "never") == {}


def test_no_pacing_when_the_room_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "neighbour_room", dict)
    assert pool.pace_tokens(mesh(40)) == {}


def test_the_room_is_read_from_the_kernel() -> None:
    room = pool.neighbour_room()
    assert set(room) <= {4, 6}
    for free in room.values():
        assert free <= 1 << 20


def test_sites_are_dealt_round_robin_into_at_most_the_process_count() -> None:
    sites = [NamespacePath(path=f"/run/netns/c{i}") for i in range(5)]
    assert pool._buckets(sites, 2) == [sites[0::2], sites[1::2]]
    assert pool._buckets(sites[:1], 4) == [sites[:1]]  # no empty process
    assert pool._buckets([], 4) == []


def test_only_local_l3_sources_share_a_process() -> None:
    tasks = mesh(2)
    site = tasks[0].source_site
    assert pool._sharable(site, tasks[:1])
    arp = ProbeTask(probe_id="arp:c0->c1", source="c0", source_site=site, target="c1",
                    target_address=ipaddress.ip_address("10.0.0.11"),
                    probe=ProbeSpec(kind=ProbeKind.ARP))
    assert not pool._sharable(site, [tasks[0], arp])  # scapy's interface table is per process
