"""Privileged: `netcheck clean` removes dead runs' namespaces, never a live run's or a
namespace without the netcheck prefix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.runtime import state
from netcheck.runtime.clean import clean, clean_ssh_dirs
from netcheck.runtime.naming import new_run_id
from netcheck.runtime.netns import nsfs

pytestmark = pytest.mark.privileged


def make_namespaces(netns_dir: str, names: list[str], *, share: bool = True) -> None:
    created: dict[str, int] = {}
    try:
        nsfs.create_many([nsfs.NsSpec(path=f"{netns_dir}/{n}") for n in names], created,
                         share_dir=share)
    finally:
        for fd in created.values():
            if fd >= 0:
                os.close(fd)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def private_dirs(tmp_path: Path) -> Iterator[tuple[str, str]]:
    netns_dir, state_dir = tmp_path / "netns", tmp_path / "state"
    try:
        yield str(netns_dir), str(state_dir)
    finally:
        for name in nsfs.list_dir(str(netns_dir)):
            nsfs.remove(f"{netns_dir}/{name}")


def test_clean_in_a_private_directory(private_dirs: tuple[str, str]) -> None:
    netns_dir, state_dir = private_dirs
    dead, orphan, live = new_run_id(), new_run_id(), new_run_id()
    names = [f"nc-{dead}-sw", f"nc-{dead}-c1", f"nc-{orphan}-x", f"nc-{live}-sw",
             "nctest-decoy", f"nc-{dead}"]
    make_namespaces(netns_dir, names, share=False)
    state.write(state.RunState(run_id=dead, pid=dead_pid(), pid_start=1, started="",
                               runtime="netns", netns=()), state_dir)
    state.write(state.for_this_process(live, "netns", (f"nc-{live}-sw",)), state_dir)

    would = clean(dry_run=True, netns_dir=netns_dir, state_dir=state_dir)
    assert nsfs.list_dir(netns_dir) == sorted(names)  # dry run removes nothing
    removed = clean(netns_dir=netns_dir, state_dir=state_dir)
    assert removed == would
    assert set(removed) == {f"nc-{dead}-sw", f"nc-{dead}-c1", f"nc-{orphan}-x",
                            f"{state_dir}/{dead}.json"}
    assert nsfs.list_dir(netns_dir) == sorted([f"nc-{live}-sw", "nctest-decoy", f"nc-{dead}"])
    assert state.read(live, state_dir) is not None
    assert clean(netns_dir=netns_dir, state_dir=state_dir) == []


def test_clean_in_run_netns_spares_decoy_and_live_run() -> None:
    dead, live = new_run_id(), new_run_id()
    decoy = "nctest-decoy"
    ours = [f"nc-{dead}-sw", f"nc-{dead}-c1", f"nc-{live}-sw"]
    make_namespaces("/run/netns", [*ours, decoy])
    state.write(state.RunState(run_id=dead, pid=dead_pid(), pid_start=1, started="",
                               runtime="netns", netns=tuple(ours[:2])))
    state.write(state.for_this_process(live, "netns", (ours[2],)))
    try:
        would = clean(dry_run=True)
        assert {f"nc-{dead}-sw", f"nc-{dead}-c1"} <= set(would)
        assert decoy not in would and f"nc-{live}-sw" not in would
        # Sweep only our two runs: other people's leftovers are not this test's business.
        removed = clean(runs={dead, live})
        assert set(removed) == {f"nc-{dead}-sw", f"nc-{dead}-c1",
                                str(state.state_path(dead))}
        present = set(os.listdir("/run/netns"))
        assert {decoy, f"nc-{live}-sw"} <= present
        assert not {f"nc-{dead}-sw", f"nc-{dead}-c1"} & present
    finally:
        for name in [*ours, decoy]:
            nsfs.remove(f"/run/netns/{name}")
        state.remove(dead)
        state.remove(live)


def test_ssh_socket_dirs_of_dead_processes_are_swept_and_nothing_else(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    dead = tmp_path / f"netcheck-ssh-{dead_pid}-abc_123"
    alive = tmp_path / f"netcheck-ssh-{os.getpid()}-xyz"
    decoys = [tmp_path / "netcheck-ssh-notapid-x", tmp_path / "netcheck-sshx-1-y",
              tmp_path / f"other-{dead_pid}"]
    for d in (dead, alive, *decoys):
        d.mkdir()
    (dead / "docker.sock").write_text("")
    assert clean_ssh_dirs(dry_run=True, tmp=str(tmp_path)) == [str(dead)]
    assert dead.exists()
    assert clean_ssh_dirs(tmp=str(tmp_path)) == [str(dead)]
    assert not dead.exists()
    assert alive.exists() and all(d.exists() for d in decoys)


def _dummy(name: str, alias: str) -> None:
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)  # no ports
    subprocess.run(["ip", "link", "set", name, "alias", alias], check=True)


def _root_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_clean_sweeps_root_links_of_dead_runs_only() -> None:
    """An empty bridge (no ports, no traffic) in the root namespace per case; only the dead
    runs' go."""
    dead, live, null_start = new_run_id(), new_run_id(), new_run_id()
    links = {f"nct{dead}": f"netcheck:{dead}", f"nct{live}": f"netcheck:{live}",
             f"nct{null_start}": f"netcheck:{null_start}",
             f"nctd{dead}": f"netcheck:{dead}-not", f"ncte{dead}": f"xnetcheck:{dead}"}
    state.write(state.for_this_process(live, "netns", ()))
    state.write(state.RunState(run_id=null_start, pid=1, pid_start=None, started="",
                               runtime="netns", netns=()))
    try:
        for name, alias in links.items():
            _dummy(name, alias)
        runs = {dead, live, null_start}
        would = clean(dry_run=True, runs=runs)
        assert set(links) <= _root_links()  # a dry run removes nothing
        removed = clean(runs=runs)
        assert removed == would
        assert set(removed) == {f"link nct{dead} (netcheck:{dead})",
                                f"link nct{null_start} (netcheck:{null_start})",
                                str(state.state_path(null_start))}
        present = _root_links()
        assert {f"nct{live}", f"nctd{dead}", f"ncte{dead}"} <= present
        assert not {f"nct{dead}", f"nct{null_start}"} & present
    finally:
        for name in links:
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)
        state.remove(live)
        state.remove(null_start)
