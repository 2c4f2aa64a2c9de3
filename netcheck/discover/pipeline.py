"""`netcheck discover`: read the live host(s), derive, probe through the engine, write.

Probing goes through `netcheck.engine.run.run_plan`, the very path `netcheck run` takes, on
the scenario text the writer produced (loaded back through the scenario loader), so what
discover reports as passing is what `run` of the written file will see. The engine creates
only labelled probe objects and removes them; the user's networks and containers are only
read. Packets go only to addresses found on the hosts' own Docker networks (checked here
before anything is sent).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from netcheck.discover.derive import Draft, derive
from netcheck.discover.live import LiveHost
from netcheck.discover.writer import Failure, render
from netcheck.errors import EnvironmentProblem, NetcheckError, ScenarioErrors
from netcheck.model.plan import Plan

if TYPE_CHECKING:
    from netcheck.model.results import RunRecord, Verdict


class DiscoverBug(NetcheckError):
    """discover produced a scenario its own loader refuses: a netcheck bug, never user input."""

    exit_code = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoverOptions:
    docker_hosts: tuple[str, ...] = ()  # none: DOCKER_HOST, else the default socket
    exclude: tuple[str, ...] = ()
    probe: bool = True
    timeout: float = 1.0
    name: str = "discovered"


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoverResult:
    text: str
    draft: Draft
    hosts: tuple[LiveHost, ...]
    failures: Mapping[str, Failure] = field(default_factory=dict)
    verdicts: tuple[Verdict, ...] = ()
    record: RunRecord | None = None
    seconds: Mapping[str, float] = field(default_factory=dict)  # read, probe, write

    @property
    def checks(self) -> int:
        return len(self.draft.checks())


Progress = Callable[[str], None]


def read_hosts(options: DiscoverOptions) -> tuple[LiveHost, ...]:
    """Read every daemon; one that does not answer stops discover (exit 3) with its URL."""
    from netcheck.discover.reader import read_host
    from netcheck.runtime.docker.client import daemon_url, make_client

    hosts: list[LiveHost] = []
    for given in options.docker_hosts or (None,):
        url = daemon_url(given)
        try:
            client = make_client(given, timeout=30.0)
            try:
                client.ping()
                hosts.append(read_host(client, url, options.exclude))
            finally:
                client.close()
        except NetcheckError:
            raise
        except Exception as exc:
            raise EnvironmentProblem(
                f"no Docker daemon answers at {url}: {exc}. Start dockerd there, or point "
                "discover at the right one with --docker-host URL (unix://, tcp://, ssh://)"
            ) from exc
    return tuple(hosts)


def load_text(text: str, name: str) -> Plan:
    """Load scenario text through the scenario loader (from a private temporary file)."""
    from netcheck.scenario import load_plan

    with tempfile.TemporaryDirectory(prefix="netcheck-discover-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_plan(path)
        except ScenarioErrors as exc:
            raise DiscoverBug(
                "discover wrote a scenario the loader refuses (a netcheck bug; please report "
                f"it with this text):\n{exc}\n--- scenario ---\n{text}"
            ) from exc


def check_ids(plan: Plan, draft: Draft) -> None:
    """The loader's expansion and the draft's must agree, or failures land on wrong lines."""
    loaded = {e.id for e in plan.expectations}
    derived = set(draft.checks())
    if loaded != derived:
        raise DiscoverBug(
            "discover's checks and the loaded scenario's differ (a netcheck bug): only "
            f"derived {sorted(derived - loaded)[:5]}, only loaded {sorted(loaded - derived)[:5]}"
        )


def assert_on_host_networks(draft: Draft, hosts: Sequence[LiveHost]) -> None:
    """Every literal target is an address of the hosts' Docker networks or of the host itself
    (its gateway, its parent): discover never sends a packet anywhere else."""
    own = {a for h in hosts for addrs in h.addresses.values() for a in addrs}

    for t in draft.targets:
        inside = any(t.address in s.subnet for h in hosts for n in h.networks
                     for s in n.subnets)
        if not inside and t.address not in own:
            raise DiscoverBug(f"target {t.name} {t.address} is on none of the host's Docker "
                              "networks: discover does not probe it (a netcheck bug)")


def failures_of(verdicts: Sequence[Verdict]) -> dict[str, Failure]:
    from netcheck.model.results import Outcome

    out: dict[str, Failure] = {}
    for v in verdicts:
        if v.outcome is Outcome.PASS:
            continue
        explanation: list[str] = []
        for f in v.findings:
            explanation.append(f"{f.id}: {f.summary}")
            if f.fix:
                explanation.append(f"fix: {f.fix}")
        kind = "fail" if v.outcome is Outcome.FAIL else "error"
        observed = v.message if kind == "fail" else v.observed
        out[v.expectation_id] = Failure(
            check_id=v.expectation_id, outcome=kind, observed=observed,
            finding=v.findings[0].id if v.findings else None, explanation=tuple(explanation),
        )
    return out


def probe(plan: Plan, options: DiscoverOptions) -> RunRecord:
    from netcheck.engine.run import RunOptions, run_plan

    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "discover probes what it derived before writing it, and probing needs root "
            "(raw sockets in the containers' namespaces). Run it with sudo, or pass "
            "--no-probe to write the unchecked scenario"
        )
    single = options.docker_hosts[0] if len(options.docker_hosts) == 1 else None
    return run_plan(plan, RunOptions(runtime="docker", timeout=options.timeout,
                                     docker_host=single))


def discover(options: DiscoverOptions, progress: Progress | None = None) -> DiscoverResult:
    say = progress or (lambda _m: None)
    seconds: dict[str, float] = {}
    t = time.monotonic()
    hosts = read_hosts(options)
    draft = derive(hosts)
    seconds["read"] = time.monotonic() - t
    say(f"read {sum(len(h.networks) for h in hosts)} networks, "
        f"{sum(len(h.containers) for h in hosts)} containers; derived "
        f"{len(draft.expectations)} expectations ({len(draft.checks())} checks)")
    failures: dict[str, Failure] = {}
    record = None
    t = time.monotonic()
    if options.probe and draft.expectations:
        assert_on_host_networks(draft, hosts)
        plan = load_text(render(draft, name=options.name), options.name)
        check_ids(plan, draft)
        say(f"probing {len(plan.expectations)} checks through the engine")
        record = probe(plan, options)
        failures = failures_of(record.verdicts)
    seconds["probe"] = time.monotonic() - t
    t = time.monotonic()
    text = render(draft, name=options.name, failures=failures, probed=options.probe)
    check_ids(load_text(text, options.name), draft)
    seconds["write"] = time.monotonic() - t
    return DiscoverResult(
        text=text, draft=draft, hosts=hosts, failures=failures,
        verdicts=record.verdicts if record is not None else (), record=record,
        seconds=seconds,
    )
