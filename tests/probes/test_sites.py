"""The probe-site registry: how each kind of site is entered, and the layering it buys."""

from __future__ import annotations

import ast
import ipaddress
from dataclasses import dataclass
from typing import ClassVar

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation
from netcheck.model.sites import ContainerPid, NamespacePath, RemoteContainer
from netcheck.probes import run_workers, sites
from netcheck.probes._entry import probe_local
from netcheck.probes.base import ProbeTask
from netcheck.probes.responders import serve_local
from tests.helpers import ROOT


def test_local_sites_are_entered_by_path() -> None:
    for site in (NamespacePath(path="/run/netns/x"), ContainerPid(container="c0ffee", pid=7)):
        entry = sites.entry_for(site)
        assert entry.probe is probe_local
        assert entry.serve is serve_local
    assert ContainerPid(container="c0ffee", pid=7).netns == "/proc/7/ns/net"
    assert RemoteContainer(run_id="r", container="c", url="tcp://h:2375").netns is None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Elsewhere(NamespacePath):
    """A site type nobody registered."""

    KIND: ClassVar[str] = "elsewhere"


def test_a_site_nobody_registered_is_an_error_per_probe_never_silence() -> None:
    task = ProbeTask(
        probe_id="icmp:a->b", source="a", source_site=_Elsewhere(path="/nowhere"), target="b",
        target_address=ipaddress.ip_address("10.0.0.2"), probe=ProbeSpec(kind=ProbeKind.ICMP),
    )
    results, reports = run_workers([task], timeout=0.2)
    assert [r.observation for r in results] == [Observation.ERROR]
    assert "no way to enter /nowhere (_Elsewhere) is registered" in results[0].detail
    assert reports[0].error is not None


def _imports(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_probe_layer_imports_no_runtime() -> None:
    for path in sorted((ROOT / "netcheck" / "probes").glob("*.py")):
        rel = str(path.relative_to(ROOT))
        assert not {m for m in _imports(rel) if m.startswith("netcheck.runtime")}, rel


def test_no_site_is_spelled_as_a_string_prefix() -> None:
    old = "docker-" + "container:"  # the reference format typed sites replaced
    for base in ("netcheck", "tests", "scenarios", "benchmarks"):
        for path in (ROOT / base).rglob("*"):
            if path.suffix in (".py", ".yaml", ".md", ".j2", ".json") and path.is_file():
                assert old not in path.read_text(errors="replace"), path
    for doc in ("README.md", "ARCHITECTURE.md"):
        assert old not in (ROOT / doc).read_text(), doc
