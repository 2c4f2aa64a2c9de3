"""Results and times as every kind records them. Scapy-free, so a kind's byte-level path
(kinds/icmp.py) needs no import when it runs."""

from __future__ import annotations

from typing import Any

from netcheck.model.results import Observation, ProbeResult
from netcheck.probes.base import ProbeTask, result_for
from netcheck.probes.route import RouteInfo


def ts(value: Any) -> float | None:
    return None if value is None else float(value)


def since(when: float | None, t0: float) -> float | None:
    """A timestamp as seconds into the batch (`t0`), as evidence shows it."""
    return None if when is None else round(when - t0, 6)


def rtt(t_sent: float | None, t_recv: float | None) -> float | None:
    if t_sent is None or t_recv is None:
        return None
    return round(max(t_recv - t_sent, 0.0) * 1000.0, 3)


def in_ms(ms: float | None) -> str:
    return f" in {ms:.2f} ms" if ms is not None else ""


def result(
    task: ProbeTask, route: RouteInfo | None, observation: Observation, detail: str, **kw: Any
) -> ProbeResult:
    """The task's result, with the interface and source address the route gave."""
    return result_for(
        task, observation, detail,
        source_interface=route.ifname if route is not None else None,
        source_address=route.src if route is not None else None,
        **kw,
    )
