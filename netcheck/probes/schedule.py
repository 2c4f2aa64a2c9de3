"""Pace a worker's probes by the room left in the kernel's neighbour table (pure logic).

The kernel keeps one neighbour table for every namespace of the host, with room for
gc_thresh3 (1024) collectable entries. A full mesh of 50 namespaces needs 50 x 49 of them
at once when every probe goes out together, and the kernel then drops probes without a
word. Seeding permanent entries would avoid that but change what is tested: a probe's own
ARP (or NDP) is part of what it proves. So a paced worker:

- sends the first probe to each next hop (the group's *lead*) only while it holds a token
  of a semaphore shared by every worker of the run (one token = room for the two entries a
  resolution costs: the source's and the one the target learns from the request);
- when the kernel reports the lead's entry resolved, the packet has left: the entry is made
  permanent (a permanent entry is exempt from the limit) and the token goes back;
- an entry learned from a peer's request is made permanent too, and the probes to that peer
  go out through it at once, without a lead or a token: the kernel sends through a learned
  entry in a run with room for every entry (an unpaced one) just the same. So each pair
  costs one broadcast, and the echo replies find their entries instead of resolving anew;
- when the lead's timeout passes unresolved, the entry is marked FAILED, as the kernel
  would after its retries: the probe's verdict (SILENT) is already final, the diagnosis still
  finds the FAILED entry, and a FAILED entry is one the kernel reclaims when it needs room,
  so the token goes back too;
- when the run's probes are all done, `release()` names the entries made permanent, to be
  deleted: the table is left as the probes found it, FAILED marks aside.

Pinned and FAILED entries are the ones that take no room (`settled`): the host's table
fill less theirs is what the room brake reads.

Waits overlap: every probe has its own deadline (its send time + the timeout) and the
worker goes on sending while earlier probes wait, so silent probes cost one timeout in
total, not one per round.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal, Protocol

from netcheck.probes.neigh import NUD_FAILED, NUD_KEEP, NUD_PERMANENT, NUD_VALID, NeighEntry

# Marking an entry FAILED makes the kernel answer its queued packet with a host-unreachable
# from this namespace, as it does after its own retries; that must land after the lead's
# own deadline (its send time + timeout, a little later than when it was handed out), or
# it would be read as the probe's answer.
FAIL_GRACE_S = 0.1

Key = tuple[int, str]  # (ifindex, next-hop address): one neighbour entry of this namespace
Op = Literal["delete", "permanent", "failed"]


class Tokens(Protocol):
    """A counting semaphore (multiprocessing.Semaphore in workers)."""

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...


class QuotaTokens:
    """A worker's own share of the run's budget first, then the shared remainder.

    Its own share needs no other process to wake up (a shared semaphore alone is only
    polled); what it borrowed goes back first, and its unused share goes back to the
    shared pool once it has no lead left to send.
    """

    def __init__(self, shared: Tokens, quota: int) -> None:
        self.shared = shared
        self.local = quota
        self.borrowed = 0

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        if self.local > 0:
            self.local -= 1
            return True
        if self.shared.acquire(False):
            self.borrowed += 1
            return True
        return False

    def release(self) -> None:
        if self.borrowed > 0:
            self.borrowed -= 1
            self.shared.release()
        else:
            self.local += 1

    def retire(self) -> None:
        """No more leads here: the rest of the share is the others'."""
        while self.local > 0:
            self.local -= 1
            self.shared.release()


# Leads one look at the room may start (see NeighbourPacer.due).
MAX_LEADS_AT_ONCE = 16

# Workers waiting for a token poll the shared semaphore (it cannot be waited on with the
# sockets). All together they should look a few thousand times a second, not 25,000 (250
# workers every 10 ms measured most of two cores spent looking): a freed token is still
# taken within a fraction of a millisecond when many wait, and within `poll_interval` when
# one does.
POLLS_PER_S = 5000
MIN_POLL_S = 0.01
MAX_POLL_S = 0.1


def poll_interval(workers: int) -> float:
    """Each waiting worker's poll period, so `workers` of them poll POLLS_PER_S in all."""
    return min(MAX_POLL_S, max(MIN_POLL_S, workers / POLLS_PER_S))


@dataclass(frozen=True, slots=True)
class Action:
    op: Op
    entry: NeighEntry


class _State(Enum):
    QUEUED = "queued"
    RESOLVING = "resolving"  # lead sent, token held
    SENDING = "sending"  # its entry is valid: the rest go out next
    DONE = "done"


@dataclass(slots=True)
class _Group:
    key: Key
    probes: list[int]  # probe indices, lead first
    state: _State = _State.QUEUED
    sent: int = 0  # how many of `probes` have been handed out
    deadline: float = 0.0  # the lead's: its send time + timeout


@dataclass(slots=True)
class NeighbourPacer:
    """Which probes may go out now, and what to do with the neighbour table meanwhile.

    `keys[i]` is the neighbour entry probe i needs (None: none, e.g. a local address or
    an ARP probe sent on a packet socket). `preexisting` is the table when pacing starts.
    Every call costs in proportion to what changed, not to the number of groups: a worker
    wakes up once per few resolutions, hundreds of times.
    """

    keys: Sequence[Key | None]
    tokens: Tokens
    timeout: float
    family: int
    preexisting: Sequence[NeighEntry] = ()
    # The room the whole host's table has now (a brake beyond the tokens: a peer slow to
    # settle what it learned shows here first); None: tokens alone.
    room: Callable[[], int] | None = None
    # Told how many entries of this namespace take no room now (`settled`), on each change.
    on_settled: Callable[[int], None] | None = None
    # Told how many leads this pacer has in flight (`held`), on each change: the room brake
    # counts one entry each that may not show yet (the target's, learned once the request
    # is processed, which a loaded host defers).
    on_held: Callable[[int], None] | None = None
    # Where in its list of next hops this pacer starts (the worker's slot): sources of a
    # mesh list their targets in one order, and starting all at the first would send
    # every first request to one target, and every silent lead to a dead one last, in
    # one batch of waits, instead of spread over the run.
    start: int = 0
    _groups: dict[Key, _Group] = field(default_factory=dict)
    _queue: deque[Key] = field(default_factory=deque)
    _free: list[int] = field(default_factory=list)  # probes needing no resolution
    _resolving: deque[_Group] = field(default_factory=deque)  # in deadline order
    _sending: list[_Group] = field(default_factory=list)  # resolved: the rest go out next
    _unsent: int = 0
    _held: int = 0
    _pending: list[Action] = field(default_factory=list)
    # Entries this pacer made permanent or marked FAILED, as it set them.
    _ours: dict[Key, NeighEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, key in enumerate(self.keys):
            if key is None:
                self._free.append(i)
                continue
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(key=key, probes=[])
                self._queue.append(key)
            group.probes.append(i)
        if self._queue:
            self._queue.rotate(-(self.start % len(self._queue)))
        self._unsent = len(self.keys)
        for entry in self.preexisting:
            self._pending.extend(self.on_entry(entry))

    @property
    def held(self) -> int:
        """Tokens this worker holds now."""
        return self._held

    @property
    def settled(self) -> int:
        """Entries of this namespace, made so here, that take no room: permanent or FAILED."""
        return len(self._ours)

    @property
    def starved(self) -> bool:
        """Leads wait for a token and nothing in flight here will wake the worker."""
        return bool(self._queue) and self._held == 0

    @property
    def all_sent(self) -> bool:
        return self._unsent == 0

    def _entry(self, key: Key) -> NeighEntry:
        return NeighEntry(family=self.family, ifindex=key[0], dst=key[1], state=0)

    def _give_back(self) -> None:
        self._held -= 1
        self.tokens.release()
        self._retire()
        if self.on_held is not None:
            self.on_held(self._held)

    def _retire(self) -> None:
        if not self._queue and isinstance(self.tokens, QuotaTokens):
            self.tokens.retire()

    def _set(self, entry: NeighEntry, op: Op, state: int) -> Action:
        self._ours[entry.key] = replace(entry, state=state)
        self._tell()
        return Action(op, entry)

    def _forget(self, key: Key) -> None:
        if self._ours.pop(key, None) is not None:
            self._tell()

    def _tell(self) -> None:
        if self.on_settled is not None:
            self.on_settled(len(self._ours))

    def due(self, now: float) -> list[int]:
        """Probes to send now: free ones, the rest of resolved groups, leads with a token."""
        out, self._free = self._free, []
        for group in self._sending:
            if group.state is _State.SENDING:
                out.extend(group.probes[group.sent :])
                group.sent = len(group.probes)
                group.state = _State.DONE
        self._sending.clear()
        # Each lead may cost two entries: start no more than half the room, and a few at
        # a time, so the next look at the room (here or in another worker) sees them.
        allowed = (min(self.room() // 2, MAX_LEADS_AT_ONCE) if self.room is not None
                   and self._queue else len(self._queue))
        held = self._held
        while self._queue and allowed > 0:
            group = self._groups[self._queue[0]]
            if group.state is not _State.QUEUED:  # resolved by a configured entry meanwhile
                self._queue.popleft()
                continue
            if not self.tokens.acquire(False):
                break
            self._queue.popleft()
            self._held += 1
            allowed -= 1
            group.state = _State.RESOLVING
            group.deadline = now + self.timeout + FAIL_GRACE_S
            self._resolving.append(group)
            out.append(group.probes[group.sent])
            group.sent += 1
        self._unsent -= len(out)
        self._retire()
        if self.on_held is not None and self._held != held:
            self.on_held(self._held)
        return out

    def sent(self, index: int, at: float) -> None:
        """Probe `index` left at `at`. A lead's failure deadline counts from there: the
        leads `due()` handed out together leave one after another, and on a busy host the
        last went out long after `due()` was asked (each lead's ARP is broadcast to every
        port of the LAN within its send; measured: a host-unreachable landed inside a
        lead's own timeout at N=50)."""
        key = self.keys[index]
        group = self._groups.get(key) if key is not None else None
        if (group is not None and group.state is _State.RESOLVING
                and group.probes[group.sent - 1] == index):
            group.deadline = max(group.deadline, at + self.timeout + FAIL_GRACE_S)

    def after_send(self) -> list[Action]:
        """What the table needs once `due()`'s probes have gone out (entries seen before
        the first send); groups sent in full are done, their entries stay pinned."""
        out, self._pending = self._pending, []
        return out

    def on_entry(self, entry: NeighEntry) -> list[Action]:
        """React to a neighbour event (or a dumped entry) of this namespace."""
        if entry.family != self.family:
            return []
        key = entry.key
        if entry.deleted:
            self._forget(key)
            return []
        mine = self._ours.get(key)
        if mine is not None:
            if entry.state == mine.state:
                return []  # what we set, echoed
            self._forget(key)  # changed since: a new resolution after a failure
        group = self._groups.get(key)
        if entry.state & NUD_KEEP:
            # Configured, not learned: used as it is, never touched. Its group needs no token.
            if group is not None and group.state is _State.QUEUED:
                group.state = _State.SENDING
                self._sending.append(group)
            return []
        if group is not None and group.state is _State.RESOLVING:
            if entry.state & NUD_VALID:  # resolved by the lead's own ARP/NDP: it has left
                self._give_back()
                if group.sent < len(group.probes):
                    group.state = _State.SENDING
                    self._sending.append(group)
                else:
                    group.state = _State.DONE
                return [self._set(entry, "permanent", NUD_PERMANENT)]
            if entry.state & NUD_FAILED:  # the kernel gave up before the deadline
                return self._fail(group)
            return []
        if entry.state & NUD_VALID:
            # Learned from a peer's request (or resolved after we gave up, or left from
            # before). Pinned: it takes no room, and answers to the peer go through it.
            if group is not None and group.state is _State.QUEUED:
                # The kernel sends through it, as in a run with room for every entry.
                group.state = _State.SENDING
                self._sending.append(group)
            return [self._set(entry, "permanent", NUD_PERMANENT)]
        return []

    def _fail(self, group: _Group) -> list[Action]:
        self._give_back()
        if group.sent < len(group.probes):
            # The rest try again behind a lead of their own, with a token of their own.
            group.state = _State.QUEUED
            self._queue.appendleft(group.key)
        else:
            group.state = _State.DONE
        return [self._set(self._entry(group.key), "failed", NUD_FAILED)]

    def on_entries(self, entries: Sequence[NeighEntry]) -> list[Action]:
        """`on_entry` for each of a read's events."""
        return [a for entry in entries for a in self.on_entry(entry)]

    def release(self) -> list[Action]:
        """The entries made permanent here, to delete: the run's probes are all done."""
        out = [Action("delete", e) for e in self._ours.values() if e.state == NUD_PERMANENT]
        for action in out:
            del self._ours[action.entry.key]
        self._tell()
        return out

    def on_time(self, now: float) -> list[Action]:
        """Leads whose timeout passed unresolved give their token back."""
        out: list[Action] = []
        while self._resolving and (
            self._resolving[0].state is not _State.RESOLVING or now >= self._resolving[0].deadline
        ):
            group = self._resolving.popleft()
            if group.state is _State.RESOLVING:
                out.extend(self._fail(group))
        return out

    def next_wake(self) -> float | None:
        """The earliest lead deadline still pending."""
        while self._resolving and self._resolving[0].state is not _State.RESOLVING:
            self._resolving.popleft()
        return self._resolving[0].deadline if self._resolving else None

    def close(self) -> None:
        """Give back every token still held (the batch is over, or failed)."""
        for group in self._resolving:
            if group.state is _State.RESOLVING:
                group.state = _State.DONE
        self._resolving.clear()
        while self._held > 0:
            self._give_back()
        self._queue.clear()
        self._retire()
