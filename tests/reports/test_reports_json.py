from __future__ import annotations

import dataclasses
import ipaddress
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from netcheck.model.results import Outcome, RunRecord
from netcheck.model.sites import ContainerPid, NamespacePath, RemoteContainer
from netcheck.reports import base
from netcheck.reports.jsonreport import (
    SCHEMA_VERSION,
    JsonReporter,
    ReportFormatError,
    load_record,
)


def test_round_trip_equals_original(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "run.json"
    JsonReporter().write(record, path)
    loaded = load_record(path)
    assert loaded == record
    # Types, not only values: a baseline diff compares addresses and enums.
    assert loaded.verdicts[2].outcome is Outcome.FAIL
    assert loaded.topology is not None
    c1 = loaded.topology.nodes["c1"]
    assert isinstance(c1.interfaces[1].address, ipaddress.IPv6Address)
    assert isinstance(c1.interfaces[0].prefix, ipaddress.IPv4Network)
    assert isinstance(loaded.verdicts, tuple)
    assert isinstance(loaded.verdicts[0].result.sent, tuple)  # type: ignore[union-attr]


def test_minimal_record_round_trips(
    record_factory: Callable[..., RunRecord], tmp_path: Path
) -> None:
    record = record_factory(verdicts=(), topology=None, phase_s={}, facts={}, duration_s=0.0)
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    assert load_record(path) == record


def test_one_compact_line_per_verdict(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    lines = path.read_text().splitlines()
    start = lines.index('  "verdicts": [')
    rows = lines[start + 1 : start + 1 + len(record.verdicts)]
    assert lines[start + 1 + len(record.verdicts)] == "  ]"
    for verdict, row in zip(record.verdicts, rows, strict=True):
        assert row.startswith("    {") and '": ' not in row  # compact separators
        assert json.loads(row.strip().rstrip(","))["expectation_id"] == verdict.expectation_id
    # The rest stays indented for reading.
    assert any(line.startswith('  "run_id": ') for line in lines[1:start])


def test_document_shape(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["counts"] == {"pass": 2, "fail": 2, "error": 1, "skip": 1}
    assert doc["ok"] is False
    assert doc["phase_s"]["build"] == 1.5
    assert doc["facts"]["kernel"] == "6.1.0-test"
    fail = doc["verdicts"][2]
    assert fail["outcome"] == "fail"
    assert fail["result"]["target_address"] == "172.16.86.20"
    assert fail["result"]["probe"] == {"kind": "icmp", "port": None, "size": 1400, "qname": None}
    assert fail["findings"][0]["fix"].startswith("sysctl")
    assert fail["result"]["sent"][0]["dst"] == "172.16.86.20"
    node = doc["topology"]["nodes"]["c1"]
    assert node["kind"] == "endpoint"
    assert node["interfaces"][1]["prefix"] == "fd00:86::/64"
    assert node["listen"] == [{"proto": "tcp", "number": 80}]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    # No temporary file left next to the report.
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_registered_by_name() -> None:
    import netcheck.reports  # noqa: F401  (registration happens at import)

    reporter = base.registered()["json"]()
    assert reporter.name == "json"


def test_unsupported_schema_version(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    doc["schema_version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportFormatError, match="schema_version: 99 is not supported"):
        load_record(path)


def test_broken_field_is_named(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    doc["verdicts"][2]["result"]["target_address"] = "not-an-ip"
    del doc["verdicts"][3]["expected"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportFormatError, match=r"verdicts\[2\]\.result\.target_address"):
        load_record(path)
    doc["verdicts"][2]["result"]["target_address"] = "172.16.86.20"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportFormatError, match=r"verdicts\[3\]\.expected: missing"):
        load_record(path)


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{\n  nope")
    with pytest.raises(ReportFormatError, match=r"run\.json:2: not JSON"):
        load_record(path)
    with pytest.raises(ReportFormatError, match="cannot read"):
        load_record(tmp_path / "missing.json")


def test_unknown_keys_are_ignored(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    doc["added_by_a_newer_netcheck"] = {"x": 1}
    doc["verdicts"][0]["also_new"] = 1
    path.write_text(json.dumps(doc))
    assert load_record(path) == record


def test_every_probe_site_kind_round_trips(record: RunRecord, tmp_path: Path) -> None:
    assert record.topology is not None
    nodes = dict(record.topology.nodes)
    sites = {
        "c1": ContainerPid(container="0123456789abcdef", pid=4242),
        "host1": RemoteContainer(run_id="ab12cd", container="f00", url="ssh://me@h:2222",
                                 image_tag="0123456789ab"),
        "nas": NamespacePath(path="/run/netns/nc-ab12cd-nas"),
    }
    for name, site in sites.items():
        nodes[name] = dataclasses.replace(nodes[name], site=site, adopted=name == "c1")
    topo = dataclasses.replace(record.topology, nodes=nodes)
    record = dataclasses.replace(record, topology=topo)
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    assert doc["topology"]["nodes"]["host1"]["site"] == {
        "kind": "remote-container", "run_id": "ab12cd", "container": "f00",
        "url": "ssh://me@h:2222", "image_tag": "0123456789ab"}
    assert doc["topology"]["nodes"]["c1"]["site"]["kind"] == "container-pid"
    loaded = load_record(path)
    assert loaded == record
    assert loaded.topology is not None
    assert type(loaded.topology.nodes["host1"].site) is RemoteContainer
    assert loaded.topology.nodes["c1"].netns == "/proc/4242/ns/net"


def test_a_report_from_before_probe_sites_loads(record: RunRecord, tmp_path: Path) -> None:
    """Reports written before typed sites kept `netns` as a path string."""
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    for node in doc["topology"]["nodes"].values():
        node["netns"] = node.pop("site")["path"]
    path.write_text(json.dumps(doc))
    assert load_record(path) == record


def test_an_unknown_site_kind_is_named(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonReporter().write(record, path)
    doc = json.loads(path.read_text())
    doc["topology"]["nodes"]["c1"]["site"]["kind"] = "teleport"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportFormatError, match=r"topology\.nodes\.c1\.site\.kind: 'teleport'"):
        load_record(path)
