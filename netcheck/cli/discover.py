"""`netcheck discover`: write a scenario from what a live Docker host runs now.

Exit codes: 0 the scenario is written and every check in it passes now; 1 it is written but
some checks fail (or could not be tested) now: each is printed with its finding and marked
in the file, where the promise stays and the fault as observed is commented out under it,
so `netcheck run` fails on exactly those until the user decides; 2 bad arguments; 3 no
Docker daemon answers at a given URL, or probing needs root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from netcheck.errors import EXIT_FAILED, EXIT_OK, UsageError
from netcheck.scenario.values import NAME_RE


def add_discover_parser(sub: Any, out: Console, err: Console) -> None:
    p = sub.add_parser(
        "discover",
        help="write a scenario from a live Docker host: its networks, containers, and what "
        "Docker promises there (probed before it is written)",
    )
    p.add_argument(
        "--docker-host", action="append", default=[], metavar="URL",
        help="a daemon to read (repeatable; default: DOCKER_HOST or the local socket)",
    )
    p.add_argument(
        "--exclude", action="append", default=[], metavar="NAME",
        help="leave out networks and containers with this name (shell glob; repeatable)",
    )
    p.add_argument("-o", "--output", metavar="PATH", help="write here (default: stdout)")
    p.add_argument("--name", default="discovered", help="the scenario's name")
    p.add_argument("--timeout", type=float, default=1.0, help="probe timeout in seconds")
    p.add_argument(
        "--no-probe", action="store_true",
        help="write what was derived without checking it against the host (no root needed)",
    )
    p.set_defaults(func=lambda args: cmd_discover(args, out, err))


def cmd_discover(args: argparse.Namespace, out: Console, err: Console) -> int:
    from netcheck.discover.pipeline import DiscoverOptions, discover
    from netcheck.textfile import write_text_atomic

    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: must be more than 0 seconds")
    if not NAME_RE.match(args.name):
        raise UsageError(f"--name {args.name!r}: letters, digits, '.', '_' and '-' only")
    options = DiscoverOptions(
        docker_hosts=tuple(args.docker_host), exclude=tuple(args.exclude),
        probe=not args.no_probe, timeout=args.timeout, name=args.name,
    )
    result = discover(options, lambda m: err.print(f"discover: {escape(m)}"))
    for note in result.draft.notes:
        err.print(f"  {escape(note)}")
    for check_id, f in sorted(result.failures.items()):
        word = "could not test" if f.outcome == "error" else "fails now"
        err.print(f"[red]{word}[/red] {escape(check_id)}: {escape(f.observed)}")
        for line in f.explanation:
            err.print(f"    {escape(line)}")
    if args.output:
        write_text_atomic(Path(args.output), result.text)
        where = args.output
    else:
        sys.stdout.write(result.text)
        where = "stdout"
    s = result.seconds
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in s.items())
    passed = result.checks - len(result.failures)
    if not args.no_probe:
        err.print(f"{result.checks} checks: {passed} pass now, {len(result.failures)} do not "
                  f"({timing})")
    else:
        err.print(f"{result.checks} checks written unprobed ({timing})")
    out_console = err if where == "stdout" else out
    out_console.print(f"scenario: {escape(where)}")
    return EXIT_FAILED if result.failures else EXIT_OK
