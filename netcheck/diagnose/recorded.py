"""Record the live state the rules read during a real run, and replay it without root.

`RecordingLive` answers like `LiveState` and keeps every answer (method, arguments,
result), the probe window (drops, counter deltas, kernel log) and the rules' re-probes.
`ReplayLive` answers from such a recording, so every rule can be tested against the
state of every fault scenario in a unit test (tests/diagnose/test_confusion.py).

Record a fault scenario (as root, with the lab lock):

    python -m netcheck.diagnose.recorded scenarios/faults/X.yaml tests/diagnose/data/X.json

(a third argument picks the runtime: `docker` for the Docker-only faults).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netcheck.diagnose import live_factory
from netcheck.diagnose.live import (
    LinkInfo,
    LiveState,
    ReprobeFn,
    Resent,
    RouteAnswer,
    VxlanInfo,
)
from netcheck.diagnose.tracefs import Drop
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.codec import decode, encode, record_from_dict, record_to_dict
from netcheck.model.plan import Expectation, Plan
from netcheck.model.results import ProbeResult, RunRecord

if TYPE_CHECKING:
    from netcheck.probes.base import ProbeTask

FORMAT = 1


def _plain(data: Any) -> Any:
    return data


def _links(data: Any) -> list[LinkInfo]:
    return [decode(LinkInfo, item, "links") for item in data]


def _route(data: Any) -> RouteAnswer:
    answer = decode(RouteAnswer, data, "route_lookup")
    assert isinstance(answer, RouteAnswer)
    return answer


def _resent(data: Any) -> Resent:
    got = decode(Resent, data, "resend")
    assert isinstance(got, Resent)
    return got


def _vxlans(data: Any) -> list[VxlanInfo]:
    return [decode(VxlanInfo, item, "vxlans") for item in data]


def _pair(data: Any) -> tuple[Any, Any]:
    return (data[0], data[1])


def _neighbours(data: Any) -> dict[str, tuple[str, str | None]]:
    return {k: (v[0], v[1]) for k, v in data.items()}


# The LiveState reads a rule may make, and how each recorded answer is decoded.
_READS: dict[str, Callable[[Any], Any]] = {
    "links": _links,
    "neighbour_state": _plain,
    "route_lookup": _route,
    "sysctl": _plain,
    "sysctls": _plain,
    "conf_effective": _pair,
    "neighbours": _neighbours,
    "routes_via": _plain,
    "routes": _plain,
    "iptables": _plain,
    "hairpin": _plain,
    "resend": _resent,
    "vxlans": _vxlans,
}


def _key(method: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    return json.dumps([method, encode(list(args)), encode(kwargs)], sort_keys=True)


def _task_key(task: ProbeTask) -> str:
    return json.dumps([task.probe_id, task.source, task.target, str(task.target_address),
                       str(task.probe)], sort_keys=True)


class RecordingLive(LiveState):
    """LiveState that keeps every answer it gives."""

    def __init__(self, window: ProbeWindow | None = None, *, timeout: float = 1.0,
                 reprobe: ReprobeFn | None = None) -> None:
        super().__init__(window, timeout=timeout, reprobe=None if reprobe is None
                         else self._recording_reprobe(reprobe))
        self.calls: dict[str, Any] = {}
        self.reprobes: dict[str, Any] = {}

    def _recording_reprobe(self, real: ReprobeFn) -> ReprobeFn:
        def reprobe(tasks: Sequence[ProbeTask], timeout: float) -> list[ProbeResult]:
            got = real(tasks, timeout)
            for task, result in zip(tasks, got, strict=False):
                self.reprobes[_task_key(task)] = encode(result)
            return got
        return reprobe


class ReplayLive(LiveState):
    """LiveState answering from a recording; a read that was never recorded is an error
    (the rule under test asked something the recorded run's rules did not)."""

    def __init__(self, window: ProbeWindow, calls: dict[str, Any], reprobes: dict[str, Any],
                 *, timeout: float = 1.0) -> None:
        super().__init__(window, timeout=timeout,
                         reprobe=self._replay_reprobe if reprobes else None)
        self._calls = calls
        self._reprobes = reprobes

    def _replay_reprobe(self, tasks: Sequence[ProbeTask], timeout: float) -> list[ProbeResult]:
        return [decode(ProbeResult, self._reprobes[_task_key(t)], "reprobe") for t in tasks]


def _recording_method(method: str) -> Callable[..., Any]:
    real = getattr(LiveState, method)

    def recorded(self: RecordingLive, *args: Any, **kwargs: Any) -> Any:
        got = real(self, *args, **kwargs)
        self.calls[_key(method, args, kwargs)] = encode(got)
        return got

    recorded.__name__ = method
    return recorded


def _replay_method(method: str) -> Callable[..., Any]:
    def replayed(self: ReplayLive, *args: Any, **kwargs: Any) -> Any:
        key = _key(method, args, kwargs)
        if key not in self._calls:
            raise LookupError(f"not in the recording: {key}")
        return _READS[method](self._calls[key])

    replayed.__name__ = method
    return replayed


for _method in _READS:
    setattr(RecordingLive, _method, _recording_method(_method))
    setattr(ReplayLive, _method, _replay_method(_method))


# --- fixtures ----------------------------------------------------------------------------------


def _window_to_dict(w: ProbeWindow) -> dict[str, Any]:
    return {"drops": encode(w.drops), "counter_deltas": w.counter_deltas,
            "kernel_log": w.kernel_log, "problems": w.problems,
            "recorded_drops": w.recorded_drops}


def _window_from_dict(data: dict[str, Any]) -> ProbeWindow:
    return ProbeWindow(
        drops=[decode(Drop, d, "drops") for d in data["drops"]],
        counter_deltas={k: dict(v) for k, v in data["counter_deltas"].items()},
        kernel_log=list(data["kernel_log"]), problems=list(data["problems"]),
        recorded_drops=bool(data["recorded_drops"]),
    )


class Recording:
    """One recorded fault run: its record (topology, probe results) and the live state."""

    def __init__(self, scenario: str, variables: dict[str, str], record: RunRecord,
                 window: ProbeWindow, calls: dict[str, Any], reprobes: dict[str, Any]) -> None:
        self.scenario = scenario
        self.variables = variables
        self.record = record
        self.window = window
        self.calls = calls
        self.reprobes = reprobes

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "scenario": self.scenario, "variables": self.variables,
            "record": record_to_dict(self.record), "window": _window_to_dict(self.window),
            "calls": self.calls, "reprobes": self.reprobes,
        }, indent=1, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: Path | str) -> Recording:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: recording format {data.get('format')!r}, want {FORMAT}")
        return cls(data["scenario"], dict(data["variables"]), record_from_dict(data["record"]),
                   _window_from_dict(data["window"]), data["calls"], data["reprobes"])

    def live(self) -> ReplayLive:
        return ReplayLive(self.window, self.calls, self.reprobes, timeout=self.record.timeout_s)

    def pairs(self, plan: Plan) -> list[tuple[Expectation, ProbeResult]]:
        by_id = {e.id: e for e in plan.expectations}
        return [(by_id[v.expectation_id], v.result) for v in self.record.verdicts
                if v.result is not None and v.expectation_id in by_id]


@contextmanager
def recording() -> Iterator[list[RecordingLive]]:
    """While active, every diagnosis reads through a RecordingLive (kept in the list)."""
    made: list[RecordingLive] = []

    def factory(window: ProbeWindow | None, *, timeout: float,
                reprobe: ReprobeFn | None) -> LiveState:
        live = RecordingLive(window, timeout=timeout, reprobe=reprobe)
        made.append(live)
        return live

    token = live_factory.set(factory)
    try:
        yield made
    finally:
        live_factory.reset(token)


def record(scenario: str, out: str, variables: dict[str, str] | None = None,
           runtime: str = "netns") -> Recording:
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.runtime.naming import new_run_id
    from netcheck.scenario import load_plan

    variables = variables or {}
    plan = load_plan(scenario, variables)
    with recording() as made:
        rec = run_plan(plan, RunOptions(runtime=runtime, run_id=new_run_id()))
    if len(made) != 1:
        raise RuntimeError(f"expected one diagnosis, saw {len(made)}")
    live = made[0]
    result = Recording(scenario, variables, rec, live.window, live.calls, live.reprobes)
    Path(out).write_text(result.to_json(), encoding="utf-8")
    return result


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m netcheck.diagnose.recorded SCENARIO.yaml OUT.json "
              "[RUNTIME (netns)]", file=sys.stderr)
        return 2
    got = record(argv[0], argv[1], runtime=argv[2] if len(argv) == 3 else "netns")
    print(f"{argv[1]}: {len(got.calls)} reads, {len(got.window.drops)} drops, "
          f"{len(got.record.verdicts)} verdicts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
