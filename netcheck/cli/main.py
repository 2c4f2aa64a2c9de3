"""`netcheck` command line: validate, run, clean, schema."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from netcheck import __version__
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

log = logging.getLogger("netcheck")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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

    return load_plan(path, _parse_sets(sets))


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
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.reports.console import ConsoleListener, render_summary

    plan = _load(args.scenario, args.set)
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: must be more than 0 seconds")
    options = RunOptions(
        runtime=args.runtime,
        timeout=args.timeout,
        only=tuple(args.only),
        docker_host=args.docker_host,
        allow_uplink=args.allow_uplink,
        image=args.image,
    )
    record = run_plan(plan, options, ConsoleListener(out))
    render_summary(record, out)
    _write_reports(record, args)
    return EXIT_OK if record.ok else EXIT_FAILED


def _write_reports(record: RunRecord, args: argparse.Namespace) -> None:
    from netcheck.reports.base import registered

    reporters = registered()
    targets = {"json": args.json, "junit": args.junit}
    if not any(targets.values()) and not args.no_reports:
        stem = Path("reports") / record.scenario
        targets = {"json": str(stem.with_suffix(".json")), "junit": str(stem) + ".junit.xml"}
    for kind, path in targets.items():
        if path:
            reporters[kind]().write(record, Path(path))
            out.print(f"{kind}: {escape(path)}")


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


def cmd_schema(args: argparse.Namespace) -> int:
    from netcheck.scenario import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="netcheck",
        description="Build a container network from a scenario, probe it with real packets, "
        "and explain what does not reach what.",
    )
    p.add_argument("--version", action="version", version=f"netcheck {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check scenario files without building anything")
    v.add_argument("scenario", nargs="+")
    v.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    v.add_argument("--list", action="store_true", help="list the expanded expectation ids")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="build the scenario, probe it, report, tear down")
    r.add_argument("scenario")
    r.add_argument("--runtime", default="auto", help="netns | docker | auto (default)")
    r.add_argument("--timeout", type=float, default=1.0, help="probe timeout in seconds")
    r.add_argument(
        "--only", action="append", default=[], metavar="GLOB",
        help="run only expectations whose id matches, e.g. 'icmp:c1->*' (repeatable)",
    )
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    r.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    r.add_argument("--json", metavar="PATH", help="write the full JSON record here")
    r.add_argument(
        "--no-reports", action="store_true",
        help="without --junit/--json, do not write reports/<scenario>.{json,junit.xml}",
    )
    r.add_argument("--docker-host", help="Docker daemon URL (default: DOCKER_HOST)")
    r.add_argument(
        "--allow-uplink", action="store_true",
        help="allow a network parent that carries this machine's default route (real hosts)",
    )
    r.add_argument("--image", help="container image for the docker runtime")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("clean", help="remove what killed runs left behind (nothing else)")
    c.add_argument("--dry-run", action="store_true")
    c.add_argument("--docker-host")
    c.set_defaults(func=cmd_clean)

    s = sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    s.add_argument("-o", "--output")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: everything netcheck built was torn down")
        return 130
    except BaseException as exc:
        from netcheck.engine.run import Interrupted

        if isinstance(exc, Interrupted):
            err.print(f"[yellow]{escape(str(exc))}[/yellow]: torn down")
            return 128 + exc.signum
        raise


if __name__ == "__main__":
    sys.exit(main())
