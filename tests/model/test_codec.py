"""The one codec for stored records: real records from real runs and constructed ones go
through encode -> JSON -> decode unchanged, older documents load, new fields need no edits."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.baseline.snapshot import HostSnapshot
from netcheck.model.codec import (
    RecordFormatError,
    decode,
    decode_dataclass,
    encode,
    gc_paused,
    record_from_dict,
    record_head,
    record_to_dict,
)
from netcheck.model.plan import EndpointMode, IPAddress, ProbeKind
from netcheck.model.results import (
    BaselineRef,
    DockerEnvironment,
    Environment,
    RunRecord,
    ServiceRecord,
    ServiceTask,
)
from netcheck.model.sites import ProbeSite
from tests.helpers import ROOT
from tests.reports.conftest import make_record

# Run records written by real runs (older netcheck versions among them): the recorded
# diagnosis cases and a baseline saved by `netcheck run --save-baseline` before typed
# environments, services and lab namespaces existed.
RECORDED = sorted((ROOT / "tests" / "diagnose" / "data").glob("*.json"))
OLD_BASELINE = ROOT / "tests" / "baseline" / "data" / "baseline-v1.json"
# `netcheck run scenarios/docker/bridge-dns.yaml --json` of the previous version (lab mode).
OLD_DOCKER = Path(__file__).parent / "data" / "docker-run-v1.json"


def _real_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = [(p.name, json.loads(p.read_text())["record"]) for p in RECORDED]
    docs.append((OLD_BASELINE.name, json.loads(OLD_BASELINE.read_text())["record"]))
    docs.append((OLD_DOCKER.name, json.loads(OLD_DOCKER.read_text())))
    return docs


def _through_json(value: object) -> Any:
    return json.loads(json.dumps(encode(value), ensure_ascii=False))


def test_there_are_real_records_to_test_with() -> None:
    assert len(_real_documents()) >= 10


@pytest.mark.parametrize(("name", "doc"), _real_documents(), ids=lambda v: str(v)[:40])
def test_real_records_round_trip(name: str, doc: dict[str, Any]) -> None:
    record = record_from_dict(doc)
    again = record_from_dict(json.loads(json.dumps(record_to_dict(record))))
    assert again == record, name
    # Encoding is stable too: what a reader wrote, a writer writes again byte for byte.
    assert record_to_dict(again) == record_to_dict(record)
    # Every field the document carried is still there, with the same value (the typed
    # fields are added beside them).
    written = record_to_dict(record)
    for key in ("run_id", "facts", "verdicts", "phase_s", "scenario", "runtime"):
        assert _carries(written[key], doc[key]), key


def _carries(written: Any, old: Any) -> bool:
    """`written` holds everything `old` held, with the same values (a field added to the
    model since, like a verdict's path, may sit beside them)."""
    if isinstance(old, dict):
        return isinstance(written, dict) and all(
            k in written and _carries(written[k], v) for k, v in old.items())
    if isinstance(old, list):
        return (isinstance(written, list) and len(written) == len(old)
                and all(_carries(w, o) for w, o in zip(written, old, strict=True)))
    return bool(written == old)


def test_an_old_record_gets_its_typed_environment_and_namespaces() -> None:
    doc = json.loads(OLD_BASELINE.read_text())["record"]
    assert "environment" not in doc and "lab_netns" not in doc["topology"]
    record = record_from_dict(doc)
    facts = doc["facts"]
    assert record.environment == Environment(
        kernel=facts["kernel"], hostname=facts["hostname"],
        netcheck_version=facts["netcheck_version"], python=facts["python"],
    )
    assert record.topology is not None
    run = record.run_id
    assert record.topology.lab_netns["sw"] == f"/run/netns/nc-{run}-sw"
    assert set(record.topology.lab_netns) == {"sw", "router", "nas", "host1", "c1", "c2"}


def test_an_old_docker_record_gets_its_docker_environment() -> None:
    doc = json.loads(OLD_DOCKER.read_text())
    assert "environment" not in doc
    record = record_from_dict(doc)
    assert record.environment is not None
    assert record.environment.docker == DockerEnvironment(
        server_version=doc["facts"]["docker.server_version"],
        api_version=doc["facts"]["docker.api_version"], mode="lab",
    )
    assert record.topology is not None and record.topology.lab_netns["host1"].endswith("-host1")


def test_typed_records_round_trip() -> None:
    base = make_record()
    assert base.topology is not None
    services = {
        "db": ServiceRecord(
            name="db", mode=EndpointMode.DNSRR,
            tasks=(ServiceTask(host="host2", addresses=(ipaddress.ip_address("10.0.0.6"),)),
                   ServiceTask(host=None, addresses=(ipaddress.ip_address("fd00::7"),))),
        ),
        "api": ServiceRecord(name="api", mode=EndpointMode.VIP, tasks=(),
                             vips={"overnet": ipaddress.ip_address("10.0.0.2")}),
    }
    topo = dataclasses.replace(
        base.topology, services=services, lab_netns={"sw": "/run/netns/nc-ab12cd-sw"},
        docker=DockerEnvironment(server_version="27.5.1", api_version="1.47", mode="host"),
    )
    record = dataclasses.replace(
        base, topology=topo,
        environment=dataclasses.replace(base.environment, docker=topo.docker)
        if base.environment is not None else None,
        baseline=BaselineRef(run_id="0f0f0f", regressions=1, diff=("newly broken: x",)),
    )
    doc = json.loads(json.dumps(record_to_dict(record)))
    assert doc["topology"]["services"]["db"]["tasks"][1] == {"host": None, "addresses": ["fd00::7"]}
    assert doc["baseline"] == {"run_id": "0f0f0f", "regressions": 1, "diff": ["newly broken: x"]}
    loaded = record_from_dict(doc)
    assert loaded == record
    assert isinstance(loaded.topology.services["api"].vips["overnet"], ipaddress.IPv4Address)  # type: ignore[union-attr]
    assert loaded.topology.services["db"].mode is EndpointMode.DNSRR  # type: ignore[union-attr]


# --- property: any record the model can hold --------------------------------------------------

_floats = st.floats(allow_nan=False)  # NaN is never equal to itself: not a record value
st.register_type_strategy(float, _floats)
# A probe kind is a word of the kinds' registry; the codec carries any well-formed word.
st.register_type_strategy(
    ProbeKind, st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True).map(ProbeKind)
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.from_type(RunRecord))
def test_any_run_record_round_trips(record: RunRecord) -> None:
    assert record_from_dict(json.loads(json.dumps(record_to_dict(record)))) == record


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_type(HostSnapshot))
def test_any_host_snapshot_round_trips(snapshot: HostSnapshot) -> None:
    assert decode_dataclass(HostSnapshot, _through_json(snapshot)) == snapshot


# --- a field added to the model tomorrow -------------------------------------------------------


class HopState(StrEnum):
    FORWARDED = "forwarded"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    node: str
    state: HopState
    address: IPAddress | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WithNewFields:
    """Shaped like what another branch adds to a result: a tuple of a new dataclass, a
    mapping of addresses, an optional nested record, each with a default."""

    name: str
    hops: tuple[Hop, ...] = ()
    seen: Mapping[str, IPAddress] = field(default_factory=dict)
    drop_at: Hop | None = None
    rate: float = 0.0


def test_new_dataclass_fields_are_carried_without_codec_edits() -> None:
    value = WithNewFields(
        name="p",
        hops=(Hop(node="r1", state=HopState.FORWARDED, address=ipaddress.ip_address("10.0.0.1")),
              Hop(node="nas", state=HopState.DROPPED)),
        seen={"eth0": ipaddress.ip_address("fe80::1")},
        drop_at=Hop(node="nas", state=HopState.DROPPED),
        rate=1,
    )
    assert decode_dataclass(WithNewFields, _through_json(value)) == value
    # An older document without them takes the defaults.
    assert decode_dataclass(WithNewFields, {"name": "p"}) == WithNewFields(name="p")


def test_a_type_the_codec_does_not_know_fails_loudly() -> None:
    @dataclass(frozen=True)
    class Odd:
        tags: frozenset[str]

    with pytest.raises(TypeError, match="no decoder"):
        decode_dataclass(Odd, {"tags": ["a"]})
    with pytest.raises(TypeError, match="cannot encode"):
        encode(object())


@pytest.mark.parametrize(
    ("tp", "data", "message"),
    [
        (int, True, "expected int"),
        (float, "1", "expected float"),
        (str, None, "expected str"),
        (IPAddress, "nope", "does not appear to be"),
        (tuple[int, ...], {"a": 1}, "expected a list"),
        (HopState, "lost", "'lost' is not a HopState"),
        (ProbeKind, "TCP/80", "'TCP/80' is not a probe kind word"),
        (ProbeKind, 6, "expected a string"),
        (Hop, {"state": "dropped"}, r"x\.node: missing"),
        (Hop | None, [], "expected an object"),
        (ProbeSite, {"kind": ["netns"]}, r"x\.kind: \['netns'\] is not one of"),
    ],
)
def test_bad_values_are_named_with_their_place(tp: Any, data: Any, message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        decode(tp, data, "x")


def test_json_integers_read_as_floats() -> None:
    assert decode(float, 1, "x") == 1.0
    assert isinstance(decode(float, 1, "x"), float)


def test_record_head_is_the_document_without_its_verdicts() -> None:
    record = make_record()
    whole = record_to_dict(record)
    del whole["verdicts"]
    head = record_head(record)
    assert head == whole and list(head) == list(whole)  # same keys, same order
    assert head["counts"] == {"pass": 2, "fail": 2, "error": 1, "skip": 1}


def test_gc_paused_restores_the_collector_as_it_was() -> None:
    import gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the caller's choice is left alone
    finally:
        gc.enable()
