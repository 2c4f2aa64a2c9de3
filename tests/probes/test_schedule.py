"""The neighbour pacer's bookkeeping (pure logic: no namespace, no packets)."""

from __future__ import annotations

import socket

from netcheck.probes.neigh import (
    NUD_FAILED,
    NUD_INCOMPLETE,
    NUD_PERMANENT,
    NUD_REACHABLE,
    NUD_STALE,
    NeighEntry,
)
from netcheck.probes.schedule import FAIL_GRACE_S, Key, NeighbourPacer, QuotaTokens


class Counter:
    """A semaphore's counting, in one process."""

    def __init__(self, value: int) -> None:
        self.value = value

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        if self.value > 0:
            self.value -= 1
            return True
        return False

    def release(self) -> None:
        self.value += 1


def entry(key: Key, state: int, *, deleted: bool = False) -> NeighEntry:
    return NeighEntry(family=socket.AF_INET, ifindex=key[0], dst=key[1], state=state,
                      lladdr=b"\x02\x42\x0a\x00\x00\x01", deleted=deleted)


def pacer(keys: list[Key | None], tokens: int, **kw: object) -> tuple[NeighbourPacer, Counter]:
    counter = Counter(tokens)
    return NeighbourPacer(keys=keys, tokens=counter, timeout=1.0, family=socket.AF_INET,
                          **kw), counter  # type: ignore[arg-type]


A, B, C = (2, "10.0.0.2"), (2, "10.0.0.3"), (2, "10.0.0.4")


def test_leads_go_out_only_with_a_token_and_free_ones_at_once() -> None:
    p, tokens = pacer([A, B, None, C], tokens=2)
    assert sorted(p.due(0.0)) == [0, 1, 2]  # A's and B's leads, and the local probe
    assert tokens.value == 0 and p.held == 2
    assert p.due(0.0) == []  # C waits for room
    assert p.starved is False  # its own resolutions in flight will wake it
    actions = p.on_entry(entry(A, NUD_REACHABLE))
    # The packet has left: the entry is pinned (no room taken, answers go through it).
    assert [(a.op, a.entry.key) for a in actions] == [("permanent", A)]
    assert p.held == 1 and tokens.value == 1 and p.settled == 1
    assert p.due(0.1) == [3]
    assert p.all_sent


def test_a_group_sends_its_rest_through_its_pinned_entry() -> None:
    p, tokens = pacer([A, A, A], tokens=1)
    assert p.due(0.0) == [0]  # the lead alone: its own ARP resolves
    assert p.due(0.0) == []  # the others wait for the resolution, not for a token
    actions = p.on_entry(entry(A, NUD_REACHABLE))
    assert [a.op for a in actions] == ["permanent"]
    assert tokens.value == 1  # a permanent entry takes no room
    assert p.on_entry(entry(A, NUD_PERMANENT)) == []  # our own request, echoed
    assert p.due(0.1) == [1, 2]
    assert p.after_send() == []  # the pin stays while peers may still answer through it
    assert p.all_sent
    assert [(a.op, a.entry.key) for a in p.release()] == [("delete", A)]
    assert p.settled == 0


def test_an_unresolved_lead_fails_after_its_timeout_and_frees_its_token() -> None:
    p, tokens = pacer([A, B], tokens=1)
    assert p.due(0.0) == [0]
    p.on_entry(entry(A, NUD_INCOMPLETE))  # still resolving: nothing to do
    assert p.next_wake() == 1.0 + FAIL_GRACE_S  # after the probe's own deadline
    assert p.on_time(1.0) == []
    actions = p.on_time(1.0 + FAIL_GRACE_S)
    # Marked FAILED, not deleted: the diagnosis reads it, and the kernel may reclaim it.
    assert [(a.op, a.entry.key) for a in actions] == [("failed", A)]
    assert tokens.value == 1 and p.held == 0
    assert p.due(2.0) == [1]


def test_a_lead_sent_late_fails_a_timeout_after_its_own_send() -> None:
    p, _tokens = pacer([A, B], tokens=2)
    assert p.due(0.0) == [0, 1]
    p.sent(0, 0.0)
    p.sent(1, 0.4)  # the second lead left 0.4 s after due() was asked
    assert [a.entry.key for a in p.on_time(1.0 + FAIL_GRACE_S)] == [A]  # A fails now...
    assert p.next_wake() == 1.4 + FAIL_GRACE_S  # ...B only a timeout after its own send
    assert [a.entry.key for a in p.on_time(1.4 + FAIL_GRACE_S)] == [B]


def test_the_kernel_giving_up_first_counts_as_failed() -> None:
    p, tokens = pacer([A], tokens=1)
    p.due(0.0)
    assert [a.op for a in p.on_entry(entry(A, NUD_FAILED))] == ["failed"]
    assert tokens.value == 1 and p.next_wake() is None


def test_followers_of_a_failed_lead_try_again_behind_a_lead_of_their_own() -> None:
    p, tokens = pacer([A, A, A], tokens=1)
    assert p.due(0.0) == [0]
    p.on_time(2.0)
    assert p.due(2.0) == [1]  # one new resolution, not every follower at once
    assert p.on_entry(entry(A, NUD_REACHABLE))[0].op == "permanent"
    assert p.due(2.1) == [2]
    assert p.all_sent and tokens.value == 1


def test_entries_learned_from_peers_are_pinned_and_configured_ones_left_alone() -> None:
    p, _tokens = pacer([A], tokens=1)
    learned = entry((2, "10.0.0.99"), NUD_STALE)
    # A peer's request: pinned, so it takes no room and our answers to it go through it.
    assert [(a.op, a.entry.key) for a in p.on_entry(learned)] == [("permanent", learned.key)]
    assert p.on_entry(entry((2, "10.0.0.98"), NUD_PERMANENT)) == []  # configured
    assert p.on_entry(entry((2, "10.0.0.99"), NUD_STALE, deleted=True)) == []
    assert p.settled == 0  # gone from the kernel: no longer ours to count
    v6 = NeighEntry(family=socket.AF_INET6, ifindex=2, dst="fd00::1", state=NUD_STALE)
    assert p.on_entry(v6) == []  # the IPv6 batch's pacer handles its own family
    assert [a.entry.key for a in p.release()] == []


def test_an_entry_learned_from_the_peer_sends_its_group_at_once() -> None:
    p, tokens = pacer([A, A, B], tokens=1)
    # A's request reached us: the kernel sends through what it learned, so do we.
    assert [a.op for a in p.on_entry(entry(A, NUD_STALE))] == ["permanent"]
    assert p.due(0.0) == [0, 1, 2]  # A's group without a lead or a token; B's lead with it
    assert tokens.value == 0 and p.held == 1
    assert p.after_send() == []
    assert p.all_sent
    assert sorted(a.entry.key for a in p.release()) == [A]


def test_a_learned_entry_crossing_our_own_lead_resolves_it() -> None:
    p, tokens = pacer([A, A], tokens=1)
    assert p.due(0.0) == [0]
    # The peer's request arrived while our own ARP was out: the kernel's entry is valid.
    assert [a.op for a in p.on_entry(entry(A, NUD_STALE))] == ["permanent"]
    assert tokens.value == 1 and p.due(0.1) == [1]
    assert p.settled == 1


def test_a_configured_entry_needs_no_token_and_is_never_touched() -> None:
    static = entry(A, NUD_PERMANENT)
    p, tokens = pacer([A, A, B], tokens=1, preexisting=[static])
    assert sorted(p.due(0.0)) == [0, 1, 2]  # A's group at once; B's lead with the token
    assert tokens.value == 0
    assert p.after_send() == []  # no delete of the configured entry
    assert p.on_entry(static) == []


def test_preexisting_learned_entries_are_pinned_on_the_first_send() -> None:
    p, tokens = pacer([A], tokens=1, preexisting=[entry(A, NUD_STALE)])
    assert p.due(0.0) == [0] and tokens.value == 1  # through the entry, no token
    assert [(a.op, a.entry.key) for a in p.after_send()] == [("permanent", A)]


def test_a_failed_mark_takes_no_room_until_a_new_resolution() -> None:
    p, _tokens = pacer([A, A], tokens=1)
    p.due(0.0)
    assert [a.op for a in p.on_time(2.0)] == ["failed"]
    assert p.settled == 1  # the kernel reclaims a FAILED entry when it needs room
    assert p.on_entry(entry(A, NUD_FAILED)) == []  # our mark, echoed
    assert p.due(2.0) == [1]
    assert p.on_entry(entry(A, NUD_INCOMPLETE)) == []  # resolving anew: counted again
    assert p.settled == 0
    assert p.release() == []  # a FAILED mark stays for the diagnosis


def test_pacers_start_at_their_own_place_in_a_shared_target_order() -> None:
    p, _tokens = pacer([A, B, C, None], tokens=1, start=1)
    assert p.due(0.0) == [3, 1]  # the free probe, then B's lead: this source starts at B
    q, _tokens = pacer([A, B, C], tokens=1, start=5)
    assert q.due(0.0) == [2]  # 5 % 3: C


def test_close_gives_back_every_token() -> None:
    p, tokens = pacer([A, B, C], tokens=2)
    p.due(0.0)
    p.close()
    assert tokens.value == 2 and p.held == 0


def test_quota_tokens_use_their_own_share_first_and_hand_it_on_when_done() -> None:
    shared = Counter(1)
    q = QuotaTokens(shared, quota=2)
    assert q.acquire(False) and q.acquire(False) and q.acquire(False)
    assert shared.value == 0 and not q.acquire(False)
    q.release()  # the borrowed one goes back first
    assert shared.value == 1
    q.release()
    q.retire()  # no leads left here: the unused share is the others'
    assert shared.value == 2 and q.local == 0


def test_a_pacer_with_no_leads_left_retires_its_quota() -> None:
    shared = Counter(0)
    q = QuotaTokens(shared, quota=3)
    p = NeighbourPacer(keys=[A], tokens=q, timeout=1.0, family=socket.AF_INET)
    p.due(0.0)
    assert shared.value == 2  # the two it will never use
    p.on_entry(entry(A, NUD_REACHABLE))
    assert shared.value == 3


def test_the_host_table_room_brakes_beyond_the_tokens() -> None:
    room = [3]
    p, tokens = pacer([A, B, C], tokens=3, room=lambda: room[0])
    assert p.due(0.0) == [0]  # room for 3 entries: one lead (two entries each)
    assert p.starved is False
    p.on_entry(entry(A, NUD_REACHABLE))
    room[0] = 0  # a slow peer has not freed what it learned yet
    assert p.due(0.1) == [] and p.starved  # asks again soon: no own event will come
    room[0] = 100
    assert p.due(0.2) == [1, 2]
    assert tokens.value == 1


def test_waiting_workers_poll_a_bounded_number_of_times_in_all() -> None:
    from netcheck.probes.schedule import MAX_POLL_S, MIN_POLL_S, POLLS_PER_S, poll_interval

    assert poll_interval(1) == poll_interval(50) == MIN_POLL_S  # few workers: quick
    assert 250 / poll_interval(250) == POLLS_PER_S  # many: the same total rate
    assert poll_interval(10_000) == MAX_POLL_S  # and never slower than this
