"""Shared fixtures: root checks and a view of the machine's netcheck namespaces."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.runtime import state
from tests.helpers import ROOT, dead_run_namespaces, netcheck_namespaces


def pytest_configure(config: pytest.Config) -> None:
    # The suite must not depend on how it was started. A background job of a
    # non-interactive shell, nohup and some CI runners start it with SIGINT ignored, and
    # an ignored disposition is inherited by every netcheck the tests start (the Ctrl-C
    # tests then send a signal nobody hears). A handler is reset by exec; SIG_IGN is not.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
    # Every run the suite starts (in process or as a child) journals its id here, so leak
    # checks count only this session's runs, never another netcheck run on the machine.
    if not os.environ.get(state.JOURNAL_ENV):
        fd, path = tempfile.mkstemp(prefix="netcheck-test-runs-", suffix=".txt")
        os.close(fd)
        os.environ[state.JOURNAL_ENV] = path
        config.add_cleanup(lambda: _remove(path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    """A failing test's reports and logs (what it wrote under tmp_path) are kept under
    reports/failed/<test>/: pytest prunes its temporary directories, and the evidence of a
    failure in CI is exactly what is needed afterwards."""
    report: pytest.TestReport = yield
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and isinstance(tmp, Path) and tmp.is_dir():
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
        dest = ROOT / "reports" / "failed" / name
        with contextlib.suppress(OSError):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(tmp, dest, symlinks=True, ignore_dangling_symlinks=True)
    return report


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fail the test if it leaves any netcheck namespace behind."""
    before = netcheck_namespaces()
    yield
    left = dead_run_namespaces(netcheck_namespaces() - before)
    assert not left, f"leftover namespaces: {sorted(left)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: builds namespaces and sends raw packets")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)


def _stop_pid(pid: int, timeout: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("needs root to run dockerd")
    proc = subprocess.run(
        [str(ROOT / "scripts" / "start-dockerd.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"start-dockerd.sh failed: {proc.stderr.strip()}")
    last = proc.stdout.strip().splitlines()[-1]
    started = int(last.split()[1]) if last.startswith("started ") else None
    yield
    if started is not None:
        _stop_pid(started)


@pytest.fixture(scope="session")
def docker_client(dockerd: None) -> Iterator[Any]:
    import docker

    from netcheck.image import ensure_image

    client = docker.from_env(version="auto")
    ensure_image(client)
    yield client
    client.close()
