"""`netcheck` command line: validate, run, discover, snapshot, diff, clean, schema."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from netcheck import __version__
from netcheck.engine.limits import TIMEOUT_MAX_S, TIMEOUT_MIN_S, timeout_problem
from netcheck.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    NetcheckError,
    ScenarioErrors,
    UsageError,
)
from netcheck.model.plan import Plan
from netcheck.model.results import RunRecord

if TYPE_CHECKING:
    from netcheck.baseline import HostSnapshot, RunDiff
    from netcheck.model.results import Topology

log = logging.getLogger("netcheck")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _seconds(text: str) -> float:
    """--timeout's type: a finite number of seconds within the bounds (argparse shows the
    message with the subcommand's usage and exits 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    problem = timeout_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return value


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, unless it says it or there is nothing to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "default" in text
            or default in (None, False, [], argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose subcommands reject unknown options themselves, so the error
    comes with `usage: netcheck run ...` rather than the top-level usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.prog != "netcheck":
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _parse_sets(items: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected NAME=VALUE, e.g. --set PARENT=ens33")
        values[key.strip()] = value
    return values


def _load(path: str, sets: Sequence[str]) -> Plan:
    from netcheck.scenario import load_plan

    plan = load_plan(path, _parse_sets(sets))
    for warning in plan.warnings:  # doubts, not errors: the run goes on
        err.print(f"[yellow]warning[/yellow] {escape(str(warning))}")
    return plan


def cmd_validate(args: argparse.Namespace) -> int:
    for path in args.scenario:
        plan = _load(path, args.set)
        out.print(
            f"[green]ok[/green] {escape(path)}: {escape(plan.name)}: "
            f"{len(plan.lab.lans)} LANs, {len(plan.networks)} networks, "
            f"{len(plan.endpoints)} endpoints, {len(plan.expectations)} expectations"
        )
        if args.list:
            for exp in plan.expectations:
                want = "reachable" if exp.reachable else "unreachable"
                out.print(f"  {escape(exp.id)}  expect {want}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from netcheck.sigmask import sigterm_raises

    # The engine turns SIGTERM into an exception only while it runs; before it (parsing)
    # and after it (writing reports) the default action would kill mid-write and leave a
    # report's temporary file behind, and exit -15 instead of 143.
    with sigterm_raises():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.reports.console import ConsoleListener, render_plain, render_summary

    plan = _load(args.scenario, args.set)
    if args.dry_run:
        return _dry_run(plan, args)
    _preflight(plan, args.runtime)
    baseline = None
    if args.baseline:
        from netcheck.baseline import load_baseline

        baseline = load_baseline(args.baseline)  # fail before building anything
    snapshots: list[HostSnapshot] = []
    inspect: Callable[[Topology], None] | None = None
    if args.baseline or args.save_baseline:
        from netcheck.baseline import snapshot_topology

        # The lab's namespaces are gone after teardown: read them while they exist.
        def inspect(topology: Topology) -> None:
            snapshots.append(snapshot_topology(topology, docker_host=args.docker_host))

    options = RunOptions(
        runtime=args.runtime,
        timeout=args.timeout,
        only=tuple(args.only),
        docker_host=args.docker_host,
        allow_uplink=args.allow_uplink,
        image=args.image,
        inspect=inspect,
        grow_neigh_table=args.grow_neigh_table,
    )
    record = run_plan(plan, options, ConsoleListener(out))
    plain = args.format == "plain" or (args.format is None and not out.is_terminal)
    (render_plain if plain else render_summary)(record, out, verbose=args.verbose > 0)
    snapshot = snapshots[0] if snapshots else None
    if args.save_baseline:
        from netcheck.baseline import Baseline, save_baseline

        save_baseline(args.save_baseline, Baseline(record=record, snapshot=snapshot))
        out.print(f"baseline: {escape(args.save_baseline)}")
    diff = None
    if baseline is not None:
        from netcheck.baseline import diff_records, with_diff

        diff = diff_records(baseline.record, record, baseline.snapshot, snapshot)
        _print_diff(diff, args.baseline)
        record = with_diff(record, diff)
    _write_reports(record, args, plan=plan, diff=diff)
    if diff is not None and diff.has_regressions:
        return EXIT_FAILED
    return EXIT_OK if record.ok else EXIT_FAILED


def _dry_run(plan: Plan, args: argparse.Namespace) -> int:
    """List what the run would create and send; create nothing (no preflight either: the
    kernel feature probe makes a namespace). Plain lines, never wrapped."""
    from netcheck.engine.dryrun import dry_run
    from netcheck.engine.plan_tasks import select
    from netcheck.engine.run import choose_runtime
    from netcheck.runtime.naming import new_run_id

    expectations = select(plan.expectations, args.only)
    runtime = choose_runtime(args.runtime, plan, args.docker_host)
    report = dry_run(plan, expectations, runtime, new_run_id())
    sys.stdout.write("".join(line + "\n" for line in report.lines()))
    return EXIT_OK


def _preflight(plan: Plan, runtime: str) -> None:
    """Refuse to start (exit 3) when a hard requirement of this run is missing."""
    from netcheck.doctor import run_preflight
    from netcheck.errors import EnvironmentProblem

    blocking = [c for c in run_preflight(plan, runtime) if c.blocking]
    if blocking:
        lines = "; ".join(f"{c.detail} (fix: {c.fix})" if c.fix else c.detail for c in blocking)
        raise EnvironmentProblem(f"preflight failed: {lines}. See: netcheck doctor {plan.source}")


def cmd_doctor(args: argparse.Namespace) -> int:
    from netcheck.doctor import Status, doctor
    from netcheck.errors import EXIT_ENVIRONMENT

    plan = _load(args.scenario, args.set) if args.scenario else None
    results = doctor(plan, args.host, None if args.runtime == "auto" else args.runtime)
    style = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red"}
    for c in results:
        mark = f"[{style[c.status]}]{c.status.value:4}[/{style[c.status]}]"
        need = " [bold](needed)[/bold]" if c.required and c.status is Status.FAIL else ""
        out.print(f"{mark} {escape(c.id)}: {escape(c.detail)}{need}")
        if c.fix and c.status is not Status.PASS:
            out.print(f"       fix: {escape(c.fix)}")
    blocking = [c for c in results if c.blocking]
    if blocking:
        err.print(f"[red]{len(blocking)} requirement(s) of the scenario are missing[/red]")
        return EXIT_ENVIRONMENT
    return EXIT_OK


def _print_diff(diff: RunDiff, baseline_path: str) -> None:
    from netcheck.baseline import diff_lines

    head = f"compared with baseline {escape(baseline_path)} (run {escape(diff.baseline_run)})"
    if diff.has_regressions:
        out.print(f"[red]{len(diff.regressions)} regression(s)[/red] {head}")
    else:
        out.print(f"[green]no regression[/green] {head}")
    for line in diff_lines(diff):
        style = "red" if line.startswith(("newly broken", "newly opened")) else "yellow"
        out.print(f"  [{style}]{escape(line)}[/{style}]")


def report_folder(root: Path, scenario: str, run_id: str) -> Path:
    """DIR/<scenario>/<run-id>: a run's own folder, so no run overwrites another's reports.
    The scenario's name is free text: only a safe slug of it names a folder."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario).strip("._") or "scenario"
    return root / slug / run_id


def _link_latest(folder: Path) -> None:
    """DIR/<scenario>/latest -> <run-id>, replaced atomically (a reader never sees none)."""
    latest = folder.parent / "latest"
    tmp = folder.parent / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, latest)


def _write_reports(
    record: RunRecord,
    args: argparse.Namespace,
    *,
    plan: Plan | None = None,
    diff: RunDiff | None = None,
) -> None:
    from netcheck.reports import write_reports

    targets = {"json": args.json, "junit": args.junit, "html": args.html}
    folder = None
    if not any(targets.values()) and not args.no_reports:
        folder = report_folder(Path(args.reports), record.scenario, record.run_id)
        targets = {
            "json": str(folder / "run.json"),
            "junit": str(folder / "junit.xml"),
            "html": str(folder / "report.html"),
        }
    write_reports(
        record, {kind: Path(path) for kind, path in targets.items() if path}, plan=plan,
        diff=diff, written=lambda kind, path: out.print(f"{kind}: {escape(str(path))}"),
    )
    if folder is not None:
        _link_latest(folder)


def cmd_snapshot(args: argparse.Namespace) -> int:
    from netcheck.baseline.snapshot import take_snapshot
    from netcheck.model.codec import encode

    snap = take_snapshot(docker=not args.no_docker, docker_host=args.docker_host)
    text = json.dumps(encode(snap), indent=2, sort_keys=True) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    from netcheck.textfile import write_text_atomic

    write_text_atomic(Path(args.output), text)
    if snap.docker_networks is None:
        nets = "no Docker daemon"
    else:
        nets = f"{len(snap.docker_networks)} Docker networks"
    root = next(iter(snap.namespaces.values()))
    out.print(
        f"snapshot: {escape(args.output)}: {len(root.links)} links, {len(root.routes)} routes, "
        f"{len(root.rules)} rules, {len(root.sysctls)} sysctls, {nets}"
    )
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from netcheck.baseline import diff_records, diff_snapshots, load_baseline
    from netcheck.baseline.store import load_snapshot

    snaps = load_snapshot(args.baseline), load_snapshot(args.current)
    if snaps[0] is not None and snaps[1] is not None:  # two `netcheck snapshot` files
        changes = diff_snapshots(snaps[0], snaps[1])
        for change in changes:
            out.print(f"network state: {escape(change.text)}")
        out.print(f"{len(changes)} change(s)" if changes else "no difference")
        return EXIT_OK
    before, after = load_baseline(args.baseline), load_baseline(args.current)
    if before.record.scenario != after.record.scenario and not args.force:
        raise UsageError(
            f"{args.baseline} is a run of scenario {before.record.scenario!r}, {args.current} "
            f"of {after.record.scenario!r}: every expectation would show as new or gone. "
            "Compare two runs of one scenario, or pass --force"
        )
    diff = diff_records(before.record, after.record, before.snapshot, after.snapshot)
    _print_diff(diff, args.baseline)
    if diff.empty:
        out.print("  no difference")
    if args.html:
        from netcheck.reports import write_reports

        write_reports(after.record, {"html": Path(args.html)}, diff=diff)
        out.print(f"html: {escape(args.html)}")
    return EXIT_FAILED if diff.has_regressions else EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    from netcheck.runtime.clean import clean

    removed = list(clean(dry_run=args.dry_run))
    try:
        from netcheck.runtime.docker import clean_docker, docker_available

        if docker_available(args.docker_host):
            removed += clean_docker(args.docker_host, dry_run=args.dry_run)
    except ImportError:
        pass
    verb = "would remove" if args.dry_run else "removed"
    for item in removed:
        out.print(f"{verb} {escape(item)}")
    out.print(f"{len(removed)} object(s) {verb}" if removed else "nothing to clean")
    return EXIT_OK


def cmd_image_build(args: argparse.Namespace) -> int:
    import docker
    from docker.errors import DockerException

    from netcheck.errors import EnvironmentProblem
    from netcheck.image import build_image

    try:
        client = docker.DockerClient(base_url=args.docker_host) if args.docker_host else (
            docker.from_env()
        )
        client.ping()
    except DockerException as exc:
        raise EnvironmentProblem(
            f"no Docker daemon answers ({exc}). Start dockerd, or pass --docker-host"
        ) from exc
    ref = build_image(client, args.tag)
    out.print(f"built {escape(ref)} offline from Debian's busybox-static")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from netcheck.scenario import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="give a variable the scenario declares or uses a value, e.g. --set PARENT=ens33 "
        "(repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="netcheck",
        description="Build a container network from a scenario, probe it with real packets, "
        "and explain what does not reach what.",
    )
    p.add_argument("--version", action="version", version=f"netcheck {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check scenario files without building anything")
    v.add_argument("scenario", nargs="+", help="scenario YAML file(s)")
    _add_set(v)
    v.add_argument("--list", action="store_true", help="list the expanded expectation ids")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="build the scenario, probe it, report, tear down")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument(
        "--runtime", default="auto",
        help="where the lab is built: netns (namespaces only), docker, or auto (the "
        "scenario's runtime:, else docker when a daemon answers, else netns)",
    )
    r.add_argument(
        "--timeout", type=_seconds, default=1.0, metavar="S",
        help=f"how long each probe waits for an answer, {TIMEOUT_MIN_S:g} to "
        f"{TIMEOUT_MAX_S:g} seconds",
    )
    r.add_argument(
        "--only", action="append", default=[], metavar="GLOB",
        help="run only expectations whose id matches, e.g. 'icmp:c1->*' (repeatable)",
    )
    _add_set(r)
    r.add_argument(
        "--format", choices=("table", "plain"), default=None,
        help="the summary: a table (fits the terminal) or plain, one line per verdict that "
        "never wraps (default: table on a terminal, plain elsewhere)",
    )
    r.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    r.add_argument("--json", metavar="PATH", help="write the full JSON record here")
    r.add_argument("--html", metavar="PATH", help="write the self-contained HTML report here")
    r.add_argument(
        "--reports", metavar="DIR", default="reports",
        help="without --junit/--json/--html, write all three into DIR/<scenario>/<run-id>/ "
        "(DIR/<scenario>/latest points at the newest)",
    )
    r.add_argument(
        "--save-baseline", metavar="PATH",
        help="save this run and a snapshot of its network state, to compare later runs with",
    )
    r.add_argument(
        "--baseline", metavar="PATH",
        help="compare with a saved baseline: print what broke or opened, put it in every "
        "report, exit 1 on any regression",
    )
    r.add_argument(
        "--no-reports", action="store_true",
        help="without --junit/--json/--html, write no report files at all",
    )
    r.add_argument("--docker-host", help="Docker daemon URL (default: DOCKER_HOST)")
    r.add_argument(
        "--allow-uplink", action="store_true",
        help="allow a network parent that carries this machine's default route (real hosts)",
    )
    r.add_argument(
        "--grow-neigh-table", action="store_true",
        help="raise the host's net.ipv4/ipv6.neigh.default.gc_thresh2/3 while probing, so a "
        "large mesh needs no pacing and silent probes share one timeout; restored at "
        "teardown (and by `netcheck clean` if the run dies), recorded in the run's facts",
    )
    r.add_argument(
        "--image", help="container image for the docker runtime (default: the scenario's "
        "image:, else the locally built netcheck/busybox)",
    )
    r.add_argument(
        "--dry-run", action="store_true",
        help="list every object the run would create and every probe (source, target, "
        "probe) it would send, then exit 0; creates nothing, sends nothing",
    )
    r.set_defaults(func=cmd_run)

    dr = sub.add_parser(
        "doctor", help="preflight checklist: kernel, link kinds, parents, sysctls, Docker"
    )
    dr.add_argument("scenario", nargs="?", help="check what this scenario needs")
    dr.add_argument("--host", default="local", help="local, ssh://user@host or docker://name")
    dr.add_argument(
        "--runtime", default="auto", help="check the needs of this runtime: netns, docker or auto",
    )
    _add_set(dr)
    dr.set_defaults(func=cmd_doctor)

    c = sub.add_parser("clean", help="remove what killed runs left behind (nothing else)")
    c.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    c.add_argument(
        "--docker-host", help="also clean this Docker daemon's labelled objects "
        "(default: DOCKER_HOST, else the local socket)",
    )
    c.set_defaults(func=cmd_clean)

    sn = sub.add_parser(
        "snapshot", help="record the host's links, addresses, routes, rules, sysctls, networks"
    )
    sn.add_argument("-o", "--output", metavar="PATH", help="write JSON here (default: stdout)")
    sn.add_argument(
        "--docker-host", help="Docker daemon URL (default: DOCKER_HOST, else the local socket)"
    )
    sn.add_argument("--no-docker", action="store_true", help="do not ask a Docker daemon")
    sn.set_defaults(func=cmd_snapshot)

    d = sub.add_parser(
        "diff", help="compare two saved runs (baselines, JSON reports) or two snapshots offline"
    )
    d.add_argument("baseline", help="the earlier run")
    d.add_argument("current", help="the later run")
    d.add_argument("--html", metavar="PATH", help="write the later run's HTML report with the diff")
    d.add_argument(
        "--force", action="store_true",
        help="compare runs of two different scenarios (refused without it)",
    )
    d.set_defaults(func=cmd_diff)

    img = sub.add_parser("image", help="local container images (there is no registry)")
    img_sub = img.add_subparsers(dest="image_command", required=True)
    ib = img_sub.add_parser("build", help="build the minimal probe-target image offline")
    ib.add_argument("--tag", default="netcheck/busybox:latest", help="the image's name")
    ib.add_argument(
        "--docker-host", help="Docker daemon URL (default: DOCKER_HOST, else the local socket)"
    )
    ib.set_defaults(func=cmd_image_build)

    s = sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    s.add_argument("-o", "--output", metavar="PATH", help="write it here (default: stdout)")
    s.set_defaults(func=cmd_schema)

    from netcheck.cli.discover import add_discover_parser
    from netcheck.vm.cli import add_vm_parser

    add_discover_parser(sub, out, err)

    add_vm_parser(sub, out, err)
    return p


# Said when Ctrl-C lands before a command started (importing, parsing): a user should not
# have to guess whether anything is left to clean up.
EARLY_INTERRUPT = "interrupted before anything was built: nothing to tear down\n"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while parsing arguments: nothing was built yet
        sys.stderr.write(EARLY_INTERRUPT)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Off a terminal (CI logs, pipes) a line is never wrapped: rich would break it at 80
    # columns, mid-token. On a terminal it fits the window.
    out.soft_wrap = not out.is_terminal
    err.soft_wrap = not err.is_terminal
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)]
    )
    try:
        code: int = args.func(args)
        return code
    except ScenarioErrors as exc:
        for e in exc.errors:
            err.print(f"[red]error[/red] {escape(str(e))}")
        return EXIT_USAGE
    except NetcheckError as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        from netcheck.sigmask import Interrupted

        if isinstance(exc, Interrupted):  # SIGTERM
            err.print(f"[yellow]{escape(str(exc))}[/yellow]: torn down")
            return 128 + exc.signum
        err.print("[yellow]interrupted[/yellow]: everything netcheck built was torn down")
        return 130


if __name__ == "__main__":
    sys.exit(main())
