"""Teardown steps alone, over stand-in clients (pure logic: what each step asks of which
daemon, and which failures it reports). The live teardown is covered by test_lab.py."""

from __future__ import annotations

from typing import Any

from netcheck.runtime.docker import teardown as steps
from netcheck.runtime.docker.daemon import LabDaemon
from netcheck.runtime.docker.handles import DaemonHandle, is_gone


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status


class _ApiError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"status {status}")
        self.response = _Response(status)


class _Api:
    def __init__(self, fail: dict[str, int] | None = None, running: int = 0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail or {}
        self.running = running

    def remove_container(self, cid: str, force: bool, v: bool) -> None:
        assert force and v
        self.calls.append(("container", cid))
        if cid in self.fail:
            raise _ApiError(self.fail[cid])

    def remove_network(self, nid: str) -> None:
        self.calls.append(("network", nid))
        if nid in self.fail:
            raise _ApiError(self.fail[nid])

    def containers(self, **_: Any) -> list[dict[str, str]]:
        return [{"Id": f"c{i}"} for i in range(self.running)]


class _Client:
    def __init__(self, api: _Api) -> None:
        self.api = api


def _handle(key: str, api: _Api, lab: bool = False) -> DaemonHandle:
    labd = LabDaemon(run_id="abc123", host=key, netns="", default_pool="") if lab else None
    return DaemonHandle(key=key, url=f"unix:///x/{key}", client=_Client(api), lab=labd)


def test_is_gone_only_for_404() -> None:
    assert is_gone(_ApiError(404))
    assert not is_gone(_ApiError(409))
    assert not is_gone(ValueError("no response"))


def test_containers_removed_on_their_daemon_and_only_real_failures_reported() -> None:
    a, b = _Api(fail={"gone": 404, "busy": 409}), _Api()
    daemons = {"a": _handle("a", a), "b": _handle("b", b)}
    errors: list[str] = []
    steps.remove_containers(daemons, [("a", "gone"), ("a", "busy"), ("b", "c1")], errors)
    assert sorted(a.calls) == [("container", "busy"), ("container", "gone")]
    assert b.calls == [("container", "c1")]
    assert errors == ["container busy: status 409"]


def test_networks_removed_on_real_daemons_only() -> None:
    real, lab = _Api(fail={"n2": 404}), _Api()
    daemons = {"": _handle("", real), "h1": _handle("h1", lab, lab=True)}
    daemons[""].networks.update({"one": "n1", "two": "n2"})
    daemons["h1"].networks.update({"three": "n3"})
    errors: list[str] = []
    steps.remove_networks(daemons, errors)
    assert real.calls == [("network", "n1"), ("network", "n2")]
    assert lab.calls == []  # its networks go with its data
    assert errors == []
    assert all(not d.networks for d in daemons.values())


def test_a_lab_daemon_still_running_containers_is_not_idle() -> None:
    daemons = {"h1": _handle("h1", _Api(running=0), lab=True),
               "h2": _handle("h2", _Api(running=1), lab=True),
               "": _handle("", _Api(running=0))}
    assert steps.idle_labs(daemons) == {"h1"}
