"""pytest plugin: scenario files as test modules, and a fixture that keeps a lab up for a test.

- `pytest scenarios/` collects every YAML file that is a netcheck scenario: one with a
  top-level `expectations:` key, in a directory named `scenarios` or named on the command
  line; or any YAML under a directory listed in the `netcheck_scenarios` ini option. Each
  expectation is a test item named by its stable id (`icmp:c1->c2`), the same id as in
  netcheck's JUnit and JSON reports.
- One engine run per scenario file, lazily, on the first selected item: only the items left
  after `-k`/deselection are probed, and their probes go out concurrently in one batch.
- A verdict maps onto pytest's outcomes: pass, fail (message + evidence), error (could not
  test: raised in setup, so pytest counts an error), skip (with the reason).
- `netcheck_lab` is a factory fixture: `lab = netcheck_lab("scenarios/x.yaml")` builds the
  lab and keeps it up until the test ends; `lab.probe(src, dst, "tcp/80")` sends one probe.
"""

from __future__ import annotations

import glob
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from netcheck.errors import EnvironmentProblem, NetcheckError, UsageError
from netcheck.model.plan import Expectation, Plan, ProbeSpec, Target
from netcheck.model.results import (
    Finding,
    Node,
    Outcome,
    ProbeResult,
    RunRecord,
    Topology,
    Verdict,
)

log = logging.getLogger(__name__)

_SCENARIO_SUFFIXES = (".yaml", ".yml")
_EXPECTATIONS_KEY = re.compile(r"^expectations\s*:", re.MULTILINE)
# How long a fixture waits for a lab to be built, and for it to be torn down.
BUILD_TIMEOUT_S = 300.0
TEARDOWN_TIMEOUT_S = 120.0


# --- options ----------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netcheck", "netcheck scenarios")
    group.addoption(
        "--netcheck-runtime",
        default="auto",
        metavar="NAME",
        help="runtime for scenario files and netcheck_lab: netns | docker | auto (default)",
    )
    group.addoption(
        "--netcheck-timeout",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="probe timeout (default 1.0)",
    )
    group.addoption(
        "--netcheck-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a scenario variable (repeatable), as `netcheck run --set`",
    )
    group.addoption(
        "--netcheck-reports",
        metavar="DIR",
        default=None,
        help="also write netcheck's own JUnit, JSON and HTML report per scenario file here",
    )
    parser.addini(
        "netcheck_scenarios",
        type="args",
        default=[],
        help="directories whose YAML files are all netcheck scenarios",
    )


def _sets(config: pytest.Config) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in config.getoption("netcheck_set") or []:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(f"--netcheck-set {item!r}: expected NAME=VALUE")
        values[key.strip()] = value
    return values


def _options(config: pytest.Config, only: Iterable[str] = ()) -> Any:
    from netcheck.engine.limits import timeout_problem
    from netcheck.engine.run import RunOptions

    timeout = float(config.getoption("netcheck_timeout"))
    problem = timeout_problem(timeout)
    if problem is not None:
        raise pytest.UsageError(f"--netcheck-timeout {timeout}: {problem}")
    return RunOptions(
        runtime=str(config.getoption("netcheck_runtime")),
        timeout=timeout,
        # Ids are matched as globs by the engine; escape so an id only ever matches itself.
        only=tuple(glob.escape(i) for i in only),
    )


# --- collecting scenario files ----------------------------------------------------------------


def _configured_dirs(config: pytest.Config) -> list[Path]:
    return [(config.rootpath / d).resolve() for d in config.getini("netcheck_scenarios")]


def _explicit_args(config: pytest.Config) -> set[Path]:
    return {(config.invocation_params.dir / a.split("::")[0]).resolve() for a in config.args}


def is_scenario_file(path: Path, config: pytest.Config) -> bool:
    """A YAML file with a top-level `expectations:` key, that is named on the command line or
    sits in a directory called `scenarios`; or any YAML file under a `netcheck_scenarios`
    directory. Other YAML (test data, CI files, invalid-scenario corpora) is left alone."""
    if path.suffix not in _SCENARIO_SUFFIXES:
        return False
    resolved = path.resolve()
    if any(resolved.is_relative_to(d) for d in _configured_dirs(config)):
        return True
    named = resolved in _explicit_args(config)
    if not named and not any(p.name == "scenarios" for p in resolved.parents):
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_EXPECTATIONS_KEY.search(text))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioLoadError(Exception):
    """A scenario that does not load: reported as a collection error with file:line."""


class ScenarioFile(pytest.File):
    """A scenario YAML file: its expectations are the items; one engine run serves them all."""

    plan: Plan | None = None
    _record: RunRecord | None = None
    _run_error: BaseException | None = None
    _ran = False

    def collect(self) -> Iterator[ExpectationItem]:
        from netcheck.scenario import load_plan

        try:
            self.plan = load_plan(self.path, _sets(self.config))
        except NetcheckError as exc:
            raise ScenarioLoadError(str(exc)) from None
        for exp in self.plan.expectations:
            yield ExpectationItem.from_parent(self, name=exp.id, expectation=exp)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str:
        if isinstance(excinfo.value, ScenarioLoadError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def selected_ids(self) -> list[str]:
        chosen: list[str] = self.config.stash.get(_SELECTED, {}).get(self.nodeid, [])
        return chosen

    def record(self) -> RunRecord:
        """Run the scenario once (the selected expectations), the first time an item asks."""
        if not self._ran:
            self._ran = True
            try:
                self._record = self._run()
            except BaseException as exc:
                self._run_error = exc
        if self._run_error is not None:
            raise self._run_error
        assert self._record is not None
        return self._record

    def _run(self) -> RunRecord:
        from netcheck.engine.run import run_plan

        assert self.plan is not None
        ids = self.selected_ids() or [e.id for e in self.plan.expectations]
        record = run_plan(self.plan, _options(self.config, ids))
        reports = self.config.getoption("netcheck_reports")
        if reports:
            _write_reports(record, self.plan, Path(str(reports)))
        return record


def _write_reports(record: RunRecord, plan: Plan, directory: Path) -> None:
    from netcheck.reports import write_reports

    stem = directory / record.scenario
    write_reports(
        record,
        {
            "junit": Path(f"{stem}.junit.xml"),
            "json": Path(f"{stem}.json"),
            "html": Path(f"{stem}.html"),
        },
        plan=plan,
    )


_SELECTED = pytest.StashKey[dict[str, list[str]]]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # After -k/-m/deselection: what each scenario file's single run has to probe.
    selected: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, ExpectationItem) and isinstance(item.parent, ScenarioFile):
            selected.setdefault(item.parent.nodeid, []).append(item.expectation.id)
    config.stash[_SELECTED] = selected


# --- items ------------------------------------------------------------------------------------


class VerdictFailed(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


class VerdictError(Exception):
    """The expectation could not be tested: raised in setup so pytest reports an error."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


class ExpectationItem(pytest.Item):
    def __init__(self, *, expectation: Expectation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expectation = expectation
        # Keywords make `-k icmp`, `-k c1`, `-k "not arp"` work on ids full of punctuation.
        for word in re.split(r"[^A-Za-z0-9_.]+", expectation.id):
            if word:
                self.keywords[word] = True
        self.keywords[expectation.probe.kind.value] = True
        self.verdict: Verdict | None = None

    @property
    def scenario(self) -> ScenarioFile:
        assert isinstance(self.parent, ScenarioFile)
        return self.parent

    def setup(self) -> None:
        try:
            record = self.scenario.record()
        except EnvironmentProblem as exc:
            pytest.skip(str(exc))
        verdict = next(
            (v for v in record.verdicts if v.expectation_id == self.expectation.id), None
        )
        if verdict is None:
            raise UsageError(f"{self.expectation.id}: the run returned no verdict for it")
        self.verdict = verdict
        _junit_classname(self, f"netcheck.{record.scenario}")
        self.user_properties.append(("outcome", verdict.outcome.value))
        self.user_properties.append(("runtime", record.runtime))
        if verdict.outcome is Outcome.ERROR:
            raise VerdictError(verdict)
        if verdict.outcome is Outcome.SKIP:
            pytest.skip(verdict.observed or verdict.message)

    def runtest(self) -> None:
        assert self.verdict is not None
        if self.verdict.outcome is Outcome.FAIL:
            raise VerdictFailed(self.verdict)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, VerdictFailed | VerdictError):
            from netcheck.reports.text import verdict_text

            return verdict_text(excinfo.value.verdict)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        loc = self.expectation.location
        line = loc.line - 1 if loc is not None and loc.line else None
        return self.path, line, self.expectation.id


def _junit_classname(item: pytest.Item, classname: str) -> None:
    """Give pytest's --junitxml the classname netcheck's own JUnit uses, so CI sees one test
    identity whichever file it reads (what the `record_xml_attribute` fixture does)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pytest moved its internals: the ids still agree, the class may not
        return
    xml = item.config.stash.get(xml_key, None)
    if xml is not None:
        xml.node_reporter(item.nodeid).add_attribute("classname", classname)


# --- the netcheck_lab fixture -----------------------------------------------------------------


@dataclass(slots=True)
class _Running:
    ready: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    topology: Topology | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    record: RunRecord | None = None
    error: BaseException | None = None


class Lab:
    """A built lab, up for the duration of one test."""

    def __init__(self, plan: Plan, running: _Running, timeout: float) -> None:
        assert running.topology is not None
        self.plan = plan
        self.topology: Topology = running.topology
        self.verdicts: tuple[Verdict, ...] = tuple(running.verdicts)
        self._timeout = timeout
        self._responders: Any = None

    @property
    def endpoints(self) -> Mapping[str, Node]:
        """Every built node by name (containers, machines, hosts, router)."""
        return self.topology.nodes

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Findings of the scenario's own expectations, as diagnosed when the lab came up."""
        seen: dict[tuple[str, str], Finding] = {}
        for v in self.verdicts:
            for f in v.findings:
                seen.setdefault((f.id, f.summary), f)
        return tuple(seen.values())

    def verdict(self, expectation_id: str) -> Verdict:
        for v in self.verdicts:
            if v.expectation_id == expectation_id:
                return v
        raise KeyError(expectation_id)

    def _listen(self) -> None:
        # The engine's own responders stop after its probe phase; ad-hoc TCP/UDP probes need
        # someone listening on the ports the scenario declares.
        if self._responders is None:
            from netcheck.engine.plan_tasks import listen_tasks
            from netcheck.probes import Responders

            responders = Responders(listen_tasks(self.topology, self.topology.nodes))
            responders.__enter__()
            self._responders = responders

    def probe(self, source: str, target: str, kind: str | ProbeSpec = "icmp") -> ProbeResult:
        """Send one probe now, from `source` to `target` ("node", "node@network", or an
        address: a literal target)."""
        import ipaddress

        from netcheck.engine.plan_tasks import build_tasks
        from netcheck.probes import run_probes
        from netcheck.probes.kinds import kind_for

        spec = kind if isinstance(kind, ProbeSpec) else _parse_probe(kind)
        node, _, via = target.partition("@")
        target_ = Target(node=node, via=via or None)
        if target not in self.topology.nodes:
            try:
                address = ipaddress.ip_address(target)
            except ValueError:
                pass
            else:
                target_ = Target(node=str(address), address=address)
        exp = Expectation(
            id=f"{spec}:{source}->{target_}",
            source=source,
            target=target_,
            probe=spec,
            reachable=True,
        )
        tasks, unresolved = build_tasks([exp], self.topology, {})
        if unresolved:
            raise UsageError(f"{exp.id}: {unresolved[0].reason}")
        if kind_for(spec.kind).needs_listener:
            self._listen()
        return run_probes(tasks, self._timeout)[0]

    def close(self) -> None:
        if self._responders is not None:
            responders, self._responders = self._responders, None
            responders.__exit__(None, None, None)


def _parse_probe(text: str) -> ProbeSpec:
    from netcheck.scenario.values import ValueProblem, parse_probe

    try:
        return parse_probe(text)
    except ValueProblem as exc:
        hint = f". {exc.hint}" if exc.hint else ""
        raise UsageError(f"probe {text!r}: {exc.message}{hint}") from None


LabFactory = Callable[..., Lab]


@pytest.fixture
def netcheck_lab(request: pytest.FixtureRequest) -> Iterator[LabFactory]:
    """Factory: `netcheck_lab(path, variables={...}, runtime=None)` builds a lab and keeps it up
    until the test ends (its scenario expectations are probed once on the way up)."""
    started: list[tuple[Lab | None, _Running, threading.Thread]] = []

    def build(
        path: str | Path,
        *,
        variables: Mapping[str, str] | None = None,
        runtime: str | None = None,
    ) -> Lab:
        from netcheck.engine import events as ev
        from netcheck.engine.run import run_plan
        from netcheck.scenario import load_plan

        config = request.config
        scenario = Path(path)
        if not scenario.is_absolute():
            scenario = config.rootpath / scenario
        plan = load_plan(scenario, {**_sets(config), **(variables or {})})
        options = _options(config)
        if runtime is not None:
            from dataclasses import replace

            options = replace(options, runtime=runtime)
        running = _Running()

        def inspect(topology: Topology) -> None:
            running.topology = topology
            running.ready.set()
            # Hold the engine before teardown until the test is done with the lab.
            running.release.wait()

        def listener(event: ev.Event) -> None:
            if isinstance(event, ev.VerdictReady):
                running.verdicts.append(event.verdict)

        def target() -> None:
            from dataclasses import replace

            try:
                running.record = run_plan(plan, replace(options, inspect=inspect), listener)
            except BaseException as exc:
                running.error = exc
            finally:
                running.ready.set()

        thread = threading.Thread(target=target, name=f"netcheck-lab-{plan.name}", daemon=True)
        entry: tuple[Lab | None, _Running, threading.Thread] = (None, running, thread)
        started.append(entry)
        thread.start()
        if not running.ready.wait(BUILD_TIMEOUT_S):
            running.release.set()
            raise EnvironmentProblem(f"{scenario}: the lab was not up in {BUILD_TIMEOUT_S:g} s")
        if running.error is not None:
            if isinstance(running.error, EnvironmentProblem):
                pytest.skip(str(running.error))
            raise running.error
        lab = Lab(plan, running, options.timeout)
        started[started.index(entry)] = (lab, running, thread)
        return lab

    try:
        yield build
    finally:
        errors: list[BaseException] = []
        for lab, running, thread in reversed(started):
            if lab is not None:
                lab.close()
            running.release.set()
            thread.join(TEARDOWN_TIMEOUT_S)
            if thread.is_alive():
                errors.append(EnvironmentProblem("a netcheck lab did not tear down in time"))
            elif running.error is not None and running.topology is not None:
                errors.append(running.error)  # teardown itself failed
        if errors:
            raise errors[0]
