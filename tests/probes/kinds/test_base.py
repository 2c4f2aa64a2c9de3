"""The kind registry: every shipped kind by its word, and a new kind is one module.

`Hop` below is such a module's content, registered from this test: the packets module and
the worker craft, batch and classify it through the registry, with no line of theirs
naming it.
"""

from __future__ import annotations

import errno
import ipaddress
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import cast

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from netcheck.model.plan import IPAddress, ProbeKind, ProbeSpec
from netcheck.model.results import Observation, ProbeResult
from netcheck.probes import packets, worker
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds import (
    BaseKind,
    Kind,
    UnknownKind,
    kind_for,
    register,
    registered,
    unregister,
)
from netcheck.probes.kinds._results import result
from netcheck.probes.route import RouteInfo, RouteLookup
from netcheck.probes.wire import Reply
from tests.probes.kinds._helpers import DST, IDS, SRC, T0, received, route, task


def test_every_probe_kind_of_the_scenario_language_is_registered() -> None:
    assert set(registered()) == {k.value for k in ProbeKind}
    for word, kind in registered().items():
        assert kind.word == word
        assert kind_for(ProbeKind(word)) is kind  # a ProbeKind is its own word


def test_an_unknown_word_is_refused_by_name() -> None:
    with pytest.raises(UnknownKind, match="no probe kind 'nope'"):
        kind_for("nope")


def test_the_main_process_reads_kinds_without_scapy() -> None:
    """The engine and the judge ask the registry; that must not load scapy (~0.7 s)."""
    code = (
        "import sys, netcheck.probes.kinds, netcheck.engine.judge, netcheck.engine.plan_tasks\n"
        "assert 'scapy' not in sys.modules, sorted(m for m in sys.modules if 'scapy' in m)\n"
        "print(sorted(netcheck.probes.kinds.registered()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "['arp', 'dns', 'icmp', 'tcp', 'udp']"


# --- a new kind: one module's worth ------------------------------------------------------------

HOP_PORT = 7


class Hop(BaseKind):
    """`hop`: a UDP datagram to the echo port; any datagram back answers."""

    word = "hop"

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        pkt: ScapyPacket = IP(src=str(route.src), dst=str(task.target_address)) / UDP(
            sport=sport, dport=HOP_PORT) / Raw(b"hop")
        return pkt

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        ev = (self.evidence(sent, t0, sent=True),)
        if not replies:
            return result(task, route, Observation.SILENT, "no hop back", sent=ev)
        who = str(replies[0][IP].src)
        return result(task, route, Observation.ANSWERED, f"hop back from {who}", sent=ev,
                      answered_by=(who,))


@pytest.fixture
def hop() -> Iterator[Kind]:
    kind = Hop()
    register(kind)
    yield kind
    unregister("hop")
    assert "hop" not in registered()


def hop_task() -> ProbeTask:
    # The scenario language's ProbeKind does not name test kinds; the registry is keyed by
    # the word, so the task carries it as such.
    return task(ProbeSpec(kind=cast(ProbeKind, "hop")))


def test_a_registered_kind_is_crafted_and_classified_through_the_registry(hop: Kind) -> None:
    assert kind_for("hop") is hop
    t = hop_task()
    probe = packets.craft_probe(t, route(), **IDS)
    pkt = probe.packet()
    assert pkt[UDP].dport == HOP_PORT and bytes(pkt[UDP].payload) == b"hop"
    assert probe.summary is None  # no byte-level path: scapy classifies it
    back = Reply.of(received(IP(src=DST, dst=SRC) / UDP(sport=HOP_PORT, dport=IDS["sport"])))
    r = packets.classify_probe(t, route(), probe, [back], timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED
    assert (r.detail, r.answered_by) == (f"hop back from {DST}", (DST,))
    silent = packets.classify_probe(t, route(), probe, [], timeout=1.0, t0=T0)
    assert silent.observation is Observation.SILENT
    refused = packets.send_error_result(t, route(), pkt, OSError(errno.EHOSTUNREACH, "x"), T0)
    assert refused.observation is Observation.ERROR
    assert refused.sent[0].dst == DST  # the kind's own evidence of what was sent


class _Lookup:
    def get(self, dst: IPAddress, src: IPAddress | None) -> RouteInfo:
        assert dst == ipaddress.ip_address(DST)
        return route()


def test_the_worker_batches_a_registered_kind_by_its_traits(hop: Kind) -> None:
    tasks = [hop_task(), task(ProbeSpec(kind=ProbeKind.ARP))]
    results: list[ProbeResult | None] = [None, None]
    batches, routes = worker._plan_batches(tasks, cast(RouteLookup, _Lookup()), results)
    assert results == [None, None] and set(routes) == {0, 1}
    assert sorted(batches) == ["ipv4", "l2:eth0"]  # routed vs link layer, from the kinds
    ((i, probe),) = batches["ipv4"].items
    assert i == 0 and probe.packet()[UDP].dport == HOP_PORT
    assert not batches["ipv4"].multi and batches["l2:eth0"].multi
