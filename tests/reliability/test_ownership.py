"""`netcheck clean` never touches what is not netcheck's, however much it looks like it.

Decoys: namespaces one character off netcheck's `nc-<6 hex>-<node>` shape, a trace instance,
a state directory entry, Docker networks and containers named like ours but without the
`io.netcheck.run` label, or with a label that only resembles it. `netcheck clean` (the real
command) runs; every decoy must still be there, untouched.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.runtime.netns import nsfs
from tests.helpers import ROOT
from tests.reliability import inventory

pytestmark = pytest.mark.privileged

DECOY_NAMESPACES = [
    "nc-decoy",  # the prefix, no run id
    "ncx-123456-a",  # a near prefix
    "nctest-decoy",  # the test prefix
    "nc-12345-a",  # five hex digits
    "nc-ABCDEF-a",  # upper-case hex
    "nc-12345g-a",  # not hex
    "nc-123456",  # no node
    "nc-123456-",  # empty node
    "xnc-123456-a",  # the shape, but not at the start
]


def _clean() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "clean"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def decoy_namespaces() -> Iterator[list[str]]:
    created: dict[str, int] = {}
    paths = [f"/run/netns/{n}" for n in DECOY_NAMESPACES]
    try:
        nsfs.create_many([nsfs.NsSpec(path=p) for p in paths], created)
        for fd in created.values():
            if fd >= 0:
                os.close(fd)
        yield DECOY_NAMESPACES
    finally:
        for p in paths:
            nsfs.remove(p)


@pytest.fixture
def decoy_files() -> Iterator[list[Path]]:
    """A state-like file and a lab-daemon-like directory whose names are not run ids."""
    made = [Path("/run/netcheck/nctest-decoy.json"), Path("/run/netcheck/nctest-decoy")]
    made[0].parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    made[0].write_text('{"pid": 1, "netns": ["nc-decoy"]}')
    made[1].mkdir(exist_ok=True)
    (made[1] / "host1").mkdir(exist_ok=True)
    try:
        yield made
    finally:
        made[0].unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (made[1] / "host1").rmdir()
            made[1].rmdir()


@pytest.fixture
def decoy_trace_instance() -> Iterator[str | None]:
    roots = [r for r in inventory.TRACEFS if os.path.isdir(f"{r}/instances")]
    if not roots:
        yield None  # nothing mounted: the clean test mounts its own and sees none of ours
        return
    inst = f"{roots[0]}/instances/nctest-decoy"
    os.mkdir(inst)
    try:
        yield "nctest-decoy"
    finally:
        os.rmdir(inst)


def test_clean_leaves_decoy_namespaces_and_files(
    decoy_namespaces: list[str], decoy_files: list[Path], decoy_trace_instance: str | None
) -> None:
    out = _clean()
    present = set(os.listdir("/run/netns"))
    assert set(decoy_namespaces) <= present, f"clean removed {set(decoy_namespaces) - present}"
    for path in decoy_files:
        assert path.exists(), f"clean removed {path}"
    assert (decoy_files[1] / "host1").is_dir()
    for name in decoy_namespaces:
        assert f" {name}\n" not in out
    if decoy_trace_instance:
        assert any(i.key == decoy_trace_instance for i in inventory.tracefs_instances())


@pytest.mark.docker
def test_clean_leaves_unlabelled_docker_objects(docker_client: Any) -> None:
    from netcheck.image import DEFAULT_IMAGE

    api = docker_client.api
    nets: list[str] = []
    containers: list[str] = []
    try:
        # Named exactly like netcheck's objects of run abc123, but not labelled as ours.
        nets.append(api.create_network("nc-abc123-x", labels={"purpose": "decoy"})["Id"])
        nets.append(api.create_network("nctest-decoy-runx", labels={"io.netcheck.runx": "abc123"})
                    ["Id"])
        nets.append(api.create_network("nctest-decoy-badid", labels={"io.netcheck.run": "x;y"})
                    ["Id"])
        for name, labels in (
            ("nc-abc123-y", {}),
            ("nctest-decoy-runx", {"io.netcheck.runx": "abc123"}),
            ("nctest-decoy-prefix", {"io.netcheck.run.owner": "abc123"}),
        ):
            containers.append(api.create_container(
                DEFAULT_IMAGE, command=["sleep", "60"], name=name, labels=labels,
                host_config=api.create_host_config(network_mode="none"),
            )["Id"])
        out = _clean()
        for nid in nets:
            assert api.inspect_network(nid)["Id"] == nid, out
        for cid in containers:
            assert api.inspect_container(cid)["Id"] == cid, out
        assert "abc123" not in out
    finally:
        for cid in containers:
            with contextlib.suppress(Exception):
                api.remove_container(cid, force=True)
        for nid in nets:
            with contextlib.suppress(Exception):
                api.remove_network(nid)
