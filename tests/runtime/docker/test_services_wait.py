"""Waiting for a swarm service's tasks: a known race is waited out, a real failure is not."""

from __future__ import annotations

from typing import Any

import pytest

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import Service
from netcheck.runtime.docker import services

LB_RACE = "failed to find a load balancer IP to use for network: gt0zlyma3xv3lxsp70amsv5ta"


def _task(
    slot: int, state: str, err: str | None = None, desired: str = "running"
) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if err is not None:
        status["Err"] = err
    return {"Slot": slot, "DesiredState": desired, "Status": status}


class _Api:
    """Answers `tasks()` from a script, one list per poll (the last one repeats)."""

    def __init__(self, polls: list[list[dict[str, Any]]]) -> None:
        self.polls = polls
        self.calls = 0

    def tasks(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        assert filters == {"service": "sid"}
        self.calls += 1
        return self.polls[min(self.calls, len(self.polls)) - 1]


class _Client:
    def __init__(self, polls: list[list[dict[str, Any]]]) -> None:
        self.api = _Api(polls)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services.time, "sleep", lambda s: None)


SVC = Service(name="web", networks=("ov",), replicas=2)


def test_a_task_lost_to_the_load_balancer_race_is_replaced_and_waited_for() -> None:
    # Swarm shuts the failed task down and starts another in its slot.
    client = _Client([
        [_task(1, "running"), _task(2, "preparing")],
        [_task(1, "running"), _task(2, "failed", LB_RACE, desired="shutdown"),
         _task(2, "pending")],
        [_task(1, "running"), _task(2, "failed", LB_RACE, desired="shutdown"),
         _task(2, "running")],
    ])
    running = services.wait_running(client, "sid", SVC, timeout=30)
    assert [t["Slot"] for t in running] == [1, 2]
    assert client.api.calls == 3


def test_any_other_task_failure_is_an_error_at_once() -> None:
    client = _Client([[_task(1, "running"), _task(2, "rejected", "No such image: x:1")]])
    with pytest.raises(RuntimeBuildError, match=r"'web': a task rejected: No such image: x:1"):
        services.wait_running(client, "sid", SVC, timeout=30)
    assert client.api.calls == 1


def test_a_race_that_never_clears_ends_at_the_deadline_with_its_error() -> None:
    client = _Client([[_task(1, "running"), _task(2, "failed", LB_RACE, desired="shutdown"),
                       _task(2, "preparing")]])
    with pytest.raises(RuntimeBuildError) as info:
        services.wait_running(client, "sid", SVC, timeout=0)
    text = str(info.value)
    assert "1/2 task(s) running after 0 s (preparing, running)" in text
    assert "a task failed: failed to find a load balancer IP" in text


def test_only_the_known_race_is_transient() -> None:
    assert services.is_transient(_task(1, "failed", LB_RACE))
    assert not services.is_transient(_task(1, "failed", "starting container failed: boom"))
    assert not services.is_transient(_task(1, "rejected"))
