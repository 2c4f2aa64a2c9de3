"""`netcheck vm run`: the command-line face of the VM runner (wired in by netcheck.cli.main)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from netcheck.errors import UsageError

EPILOG = """\
Options for `netcheck run` inside the VM go after `--`, e.g.
  netcheck vm run scenarios/vm/ipvlan-l2.yaml scenarios/vm/ipvlan-l3.yaml -- --timeout 3
All scenarios run in ONE boot; reports land in --reports as <scenario>.json/.junit.xml.
Exit code: the worst scenario's (2 > 1 > 0), or 3 when the VM itself failed."""


def split_run_args(items: list[str]) -> tuple[list[str], list[str]]:
    """argparse drops `--` and hands everything after it over as positionals: scenario files
    come first, and the first item that looks like an option starts `netcheck run`'s."""
    for i, item in enumerate(items):
        if item.startswith("-"):
            return items[:i], items[i:]
    return items, []


def add_vm_parser(sub: Any, out: Console, err: Console) -> None:
    vm = sub.add_parser("vm", help="run scenarios under a full distribution kernel (QEMU)")
    vm_sub = vm.add_subparsers(dest="vm_command", required=True)
    r = vm_sub.add_parser(
        "run",
        help="boot a kernel once, run the scenarios inside, report here",
        usage="netcheck vm run [options] SCENARIO... [-- NETCHECK-RUN-OPTIONS]",
        epilog=EPILOG,
    )
    r.add_argument("scenario", nargs="+", help=argparse.SUPPRESS)
    r.add_argument(
        "--kernel", metavar="PATH",
        help="kernel image or folder (default: /boot, then /var/lib/netcheck/kernel)",
    )
    r.add_argument(
        "--timeout", type=float, default=900.0, metavar="S",
        help="wall-clock limit for the whole boot, in seconds",
    )
    r.add_argument("--reports", default="reports", metavar="DIR", help="default: reports")
    r.add_argument(
        "--accel", default="auto", choices=("auto", "kvm", "tcg"),
        help="QEMU acceleration: kvm, tcg (emulation, slow), or auto (kvm when /dev/kvm works)",
    )
    r.add_argument("--memory", default="1G", help="the VM's memory, as QEMU's -m takes it")
    r.add_argument("--quiet-console", action="store_true", help="do not echo the VM console")
    r.add_argument(
        "--no-cached-root", action="store_true",
        help="run the guest's Python from virtme-ng's uncached 9p root (slower; for "
             "telling a cache problem apart)",
    )
    r.add_argument(
        "--profile", action="store_true",
        help="sample the guest's Python stacks into <reports>/vm-profile.txt (flame graph format)",
    )

    def cmd_vm_run(args: argparse.Namespace) -> int:
        from netcheck.vm import VmOptions, run_in_vm
        from netcheck.vm.batch import batch_timing, scenario_timing

        scenarios, run_args = split_run_args(list(args.scenario))
        if not scenarios:
            raise UsageError("netcheck vm run: name at least one scenario file before `--`")
        options = VmOptions(
            scenarios=tuple(Path(s) for s in scenarios),
            reports=Path(args.reports),
            run_args=tuple(run_args),
            kernel=args.kernel,
            timeout_s=args.timeout,
            accel=args.accel,
            memory=args.memory,
            profile=args.profile,
            cached_root=not args.no_cached_root,
        )

        def echo(line: str) -> None:
            out.print(f"[dim]vm|[/dim] {escape(line)}")

        outcome = run_in_vm(options, None if args.quiet_console else echo)
        for res in outcome.results.results if outcome.results else ():
            extra = f" ({escape(res.error)})" if res.error else ""
            out.print(
                f"  exit {res.exit_code}  {escape(res.scenario)}  {res.duration_s:g} s "
                f"({scenario_timing(res)}){extra}"
            )
            for dev in res.guest.vlan_devices if res.guest else ():
                fate = "still there after it" if dev.left_after else "removed by the end"
                out.print(
                    f"    guest: {escape(dev.ifname)} (VLAN {dev.vlan_id} on "
                    f"{escape(dev.lower)}) appeared during the run, {fate}"
                )
        if outcome.results is not None:
            out.print(
                f"vm: {batch_timing(outcome.results, outcome.elapsed_s, outcome.kernel_at_s)}"
            )
        if outcome.results is not None and outcome.results.docker_error:
            err.print(f"[red]vm[/red]: guest Docker: {escape(outcome.results.docker_error)}")
        console = out if outcome.exit_code in (0, 1) else err
        style = "green" if outcome.exit_code == 0 else "red"
        console.print(f"[{style}]vm[/{style}]: {escape(outcome.message)}")
        return outcome.exit_code

    r.set_defaults(func=cmd_vm_run)
