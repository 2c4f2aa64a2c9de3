"""The kind registry: every shipped kind by its word, and a new kind is one module.

`Hop` below is such a module's content, registered from this test and nowhere else: the
scenario loader accepts `hop/PORT` in YAML, the JSON Schema lists it, the engine plans it,
the packets module and the worker craft, batch and classify it through the registry, a
real namespace lab answers it, the judge and the diagnosis rules read its traits; no line
of theirs names it.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from netcheck.engine.dryrun import dry_run
from netcheck.engine.run import RunOptions, run_plan
from netcheck.errors import ScenarioErrors
from netcheck.model.plan import IPAddress, ProbeKind, ProbeSpec
from netcheck.model.results import Observation, Outcome, ProbeResult
from netcheck.probes import packets, worker
from netcheck.probes.base import ProbeTask
from netcheck.probes.kinds import (
    Argument,
    BaseKind,
    Kind,
    Syntax,
    UnknownKind,
    added,
    kind_for,
    register,
    registered,
    unregister,
)
from netcheck.probes.kinds._results import result
from netcheck.probes.route import RouteInfo, RouteLookup
from netcheck.probes.wire import Reply
from netcheck.scenario import json_schema, load_plan
from tests.probes.kinds._helpers import DST, IDS, SRC, T0, received, route, task


def test_every_probe_kind_of_the_scenario_language_is_registered() -> None:
    # In the order hints and the schema list them; the model's named words are all there.
    assert list(registered()) == ["arp", "icmp", "tcp", "udp", "dns"]
    named = {ProbeKind.ARP, ProbeKind.ICMP, ProbeKind.TCP, ProbeKind.UDP, ProbeKind.DNS}
    assert set(registered()) == named
    for word, kind in registered().items():
        assert kind.word == word
        assert kind_for(ProbeKind(word)) is kind  # a ProbeKind is its own word
    assert added() == ()  # every process registers the shipped kinds itself


def test_each_kind_declares_its_syntax_and_what_the_diagnosis_reads() -> None:
    kinds = registered()
    assert {w: (k.syntax.argument, k.syntax.optional) for w, k in kinds.items()} == {
        "arp": (None, False), "icmp": (Argument.DF_SIZE, True), "tcp": (Argument.PORT, False),
        "udp": (Argument.PORT, False), "dns": (Argument.NAME, False),
    }
    assert {w: k.ip_proto for w, k in kinds.items()} == {
        "arp": None, "icmp": "icmp", "tcp": "tcp", "udp": "udp", "dns": "udp",
    }
    assert [w for w, k in kinds.items() if k.resolves_neighbour] == ["arp"]
    assert [w for w, k in kinds.items() if k.link_layer] == ["arp"]
    assert [w for w, k in kinds.items() if k.asks_server] == ["dns"]
    assert {w: k.refusal for w, k in kinds.items() if k.needs_listener or k.asks_server} == {
        "tcp": "TCP RST", "udp": "ICMP port unreachable", "dns": "ICMP port unreachable",
    }
    assert kinds["icmp"].counters.request == ("Icmp.InEchos",)
    assert kinds["tcp"].counters.arrived == ()  # Tcp.InSegs counts the target's own answers
    assert kinds["dns"].counters == kinds["udp"].counters  # a query is a UDP datagram
    assert kinds["arp"].counters.request == kinds["arp"].counters.reply == ()


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
HOP_PAYLOAD = b"hop"


class Hop(BaseKind):
    """`hop/PORT`: a UDP datagram to PORT that must come back as it went (an echo
    service); an ICMP port unreachable says nothing listens there."""

    word = "hop"
    syntax = Syntax(argument=Argument.PORT)
    needs_listener = True  # the target's responder echoes it
    ip_proto = "udp"  # a firewall rule for udp counts it

    def craft(
        self, task: ProbeTask, route: RouteInfo, *, sport: int, ident: int, seq: int, isn: int
    ) -> ScapyPacket:
        pkt: ScapyPacket = IP(src=str(route.src), dst=str(task.target_address)) / UDP(
            sport=sport, dport=task.probe.port) / Raw(HOP_PAYLOAD)
        return pkt

    def classify(
        self, task: ProbeTask, route: RouteInfo, sent: ScapyPacket,
        replies: Sequence[ScapyPacket], *, timeout: float, t0: float,
    ) -> ProbeResult:
        ev = (self.evidence(sent, t0, sent=True),)
        for reply in replies:
            who = str(reply[IP].src)
            if UDP in reply and bytes(reply[UDP].payload) == HOP_PAYLOAD:
                return result(task, route, Observation.ANSWERED, f"hop back from {who}",
                              sent=ev, answered_by=(who,))
            if ICMP in reply and (reply[ICMP].type, reply[ICMP].code) == (3, 3):
                return result(task, route, Observation.REFUSED,
                              f"ICMP port unreachable from {who}: nothing echoes on "
                              f"{task.probe.port}", sent=ev, answered_by=(who,))
        return result(task, route, Observation.SILENT, "no hop back", sent=ev)


@pytest.fixture
def hop() -> Iterator[Kind]:
    kind = Hop()
    register(kind)
    yield kind
    unregister("hop")
    assert "hop" not in registered()


def hop_task(port: int = HOP_PORT) -> ProbeTask:
    # No cast, no ProbeKind member: the word is the registry's key.
    return task(ProbeSpec(kind=ProbeKind("hop"), port=port))


def test_a_registered_kind_is_crafted_and_classified_through_the_registry(hop: Kind) -> None:
    assert kind_for("hop") is hop
    assert added() == (hop,)  # what a probe worker is handed, as it cannot import this test
    t = hop_task()
    probe = packets.craft_probe(t, route(), **IDS)
    pkt = probe.packet()
    assert pkt[UDP].dport == HOP_PORT and bytes(pkt[UDP].payload) == HOP_PAYLOAD
    assert probe.summary is None  # no byte-level path: scapy classifies it
    back = Reply.of(received(
        IP(src=DST, dst=SRC) / UDP(sport=HOP_PORT, dport=IDS["sport"]) / Raw(HOP_PAYLOAD)))
    r = packets.classify_probe(t, route(), probe, [back], timeout=1.0, t0=T0)
    assert r.observation is Observation.ANSWERED
    assert (r.detail, r.answered_by) == (f"hop back from {DST}", (DST,))
    other = Reply.of(received(
        IP(src=DST, dst=SRC) / UDP(sport=HOP_PORT, dport=IDS["sport"]) / Raw(b"not it")))
    assert packets.classify_probe(t, route(), probe, [other], timeout=1.0,
                                  t0=T0).observation is Observation.SILENT
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


# --- the same kind, end to end: YAML, schema, plan, a real lab, the judge ---------------------

HOP_SCENARIO = """\
name: hop
description: a probe kind registered by a test, written like a shipped one
lab:
  lans:
    lan: {subnet: 10.0.77.0/24, gateway: 10.0.77.1}
  router: {}
  machines:
    db:
      lan: lan
      ip: 10.0.77.20
      listen: [udp/7]
      firewall:
        - drop: udp/7 from app1
    app1: {lan: lan, ip: 10.0.77.31}
    app2: {lan: lan, ip: 10.0.77.32}
expectations:
  - from: app1
    to: db
    probe: hop/7
    reachable: false
    reason: filtered
  - from: app2
    to: db
    probe: hop/7
  - from: app2
    to: db
    probe: {kind: hop, port: 9}
    reachable: false
    reason: port-closed
"""
HOP_IDS = ["hop/7:app1->db", "hop/7:app2->db", "hop/9:app2->db"]


def scenario(tmp_path: Path, text: str = HOP_SCENARIO) -> Path:
    path = tmp_path / "hop.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_registered_kind_is_written_in_yaml_like_a_shipped_one(
    hop: Kind, tmp_path: Path
) -> None:
    plan = load_plan(scenario(tmp_path))
    assert [e.id for e in plan.expectations] == HOP_IDS
    assert all(e.probe.kind is ProbeKind("hop") for e in plan.expectations)
    assert [e.probe.port for e in plan.expectations] == [7, 7, 9]  # text and mapping form
    bare = HOP_SCENARIO.replace("probe: hop/7\n    reachable", "probe: hop\n    reachable")
    with pytest.raises(ScenarioErrors) as bad:
        load_plan(scenario(tmp_path, bare))
    assert "'hop' needs a port" in str(bad.value)
    assert "Write 'hop/PORT', e.g. 'hop/80'" in str(bad.value)
    named = HOP_SCENARIO.replace("{kind: hop, port: 9}", "{kind: hop, name: db}")
    with pytest.raises(ScenarioErrors, match="'name' does not apply to a hop probe"):
        load_plan(scenario(tmp_path, named))


def test_without_its_module_the_word_is_no_probe(tmp_path: Path) -> None:
    with pytest.raises(ScenarioErrors) as bad:
        load_plan(scenario(tmp_path))
    text = str(bad.value)
    assert "'hop/7' is not a probe" in text
    assert "Probes: arp, icmp, icmp/df/SIZE, tcp/PORT, udp/PORT, dns/NAME" in text


def _probe_schema(schema: dict[str, Any]) -> Any:
    """One probe's schema, as `probe:` of a pair expectation gives it (one or a list)."""
    return schema["$defs"]["PairExpectation"]["properties"]["probe"]["anyOf"][0]


def test_the_schema_lists_a_registered_kind(hop: Kind) -> None:
    text, mapping = _probe_schema(json_schema())["anyOf"]
    pattern = text["pattern"]
    assert re.search(pattern, "hop/7") and not re.search(pattern, "hop")
    assert re.search(pattern, "tcp/80") and re.search(pattern, "icmp/df/1400")
    assert text["description"].endswith("dns/NAME or hop/PORT")
    kinds = mapping["properties"]["kind"]["anyOf"][0]["enum"]  # or a ${VARIABLE}
    assert kinds == ["arp", "icmp", "tcp", "udp", "dns", "hop"]


def test_a_registered_kind_is_planned(hop: Kind, tmp_path: Path) -> None:
    plan = load_plan(scenario(tmp_path))
    lines = dry_run(plan, plan.expectations, "netns", "0a0b0c").probes
    assert [line.split(":")[0] for line in lines] == [f"probe hop/{p}" for p in (7, 7, 9)]
    assert lines[1].startswith("probe hop/7:app2->db: hop/7 from app2")
    assert lines[1].endswith("to db (10.0.77.20), expect reachable")
    # Its target gets a responder: the kind says it needs a listener.
    from netcheck.engine.plan_tasks import listener_targets

    t = ProbeTask(probe_id=HOP_IDS[1], source="app2", source_site=hop_task().source_site,
                  target="db", target_address=ipaddress.ip_address("10.0.77.20"),
                  probe=plan.expectations[1].probe, target_node="db")
    assert listener_targets([t]) == {"db"}


@pytest.mark.privileged
def test_a_registered_kind_runs_against_a_namespace_lab_and_is_judged(
    hop: Kind, tmp_path: Path, no_leftovers: None
) -> None:
    """The probe workers (forked from the forkserver, which never saw this test) are handed
    the kind; the real lab's kernel and responder answer it; the firewall rule for udp is
    found by its protocol, the closed port by its ICMP refusal."""
    plan = load_plan(scenario(tmp_path))
    record = run_plan(plan, RunOptions(runtime="netns"))
    by_id = {v.expectation_id: v for v in record.verdicts}
    assert sorted(by_id) == sorted(HOP_IDS)
    assert [by_id[i].outcome for i in HOP_IDS] == [Outcome.PASS] * 3, [
        by_id[i].message for i in HOP_IDS]
    dropped, echoed, closed = (by_id[i] for i in HOP_IDS)
    assert echoed.result is not None and echoed.result.observation is Observation.ANSWERED
    assert echoed.result.detail == "hop back from 10.0.77.20"
    assert dropped.result is not None and dropped.result.observation is Observation.SILENT
    assert dropped.result.sent and dropped.result.sent[0].dst == "10.0.77.20"  # it went out
    assert [f.id for f in dropped.findings][:1] == ["filtered"]
    assert closed.result is not None and closed.result.observation is Observation.REFUSED
    (port_closed,) = [f for f in closed.findings if f.id == "port-closed"]
    assert "ICMP port unreachable from 10.0.77.20" in port_closed.evidence
