"""A full ICMP mesh the way users run it: a scenario FILE through the engine `netcheck run` uses.

    sudo .venv/bin/python benchmarks/mesh_run.py [--sizes 10,50,100,250] [--timeout 1.0]
        [--dead 10] [--grow-neigh-table] [--fping-every K] [--lock /tmp/netcheck-lab.lock]

For each N a scenario file is written (one lab LAN, one host, one macvlan network in bridge
mode on the netns runtime, N endpoints, `mesh:` of all of them, probe icmp) and run in a
fresh process by `run_plan(load_plan(file))`, as the CLI does: whole run and its phases
(build, listen, probe, diagnose, teardown), verdicts (passed / failed / errors) and the peak
RSS of the process tree. `--grow-neigh-table` is the CLI flag of the same name.

`--dead P`: P% of the N endpoints are dead, built so in the scenario: lab machines on the
same LAN whose eth0 is down (`state: down`: no ARP, no answer). The mesh is of the live
endpoints, plus `from: <live> to: <dead> reachable: false`: each of those probes passes only
if its packet (its ARP) left and nothing answered within the timeout.

On the same lab, after netcheck's probes and before its teardown (the engine's `inspect`
hook), the baseline: `fping -c1 -t<timeout>` once per live source namespace, one after
another, as a shell loop over `ip netns exec` would (fping's own defaults otherwise: 10 ms
between targets); its time, the pairs it saw answered and the kernel's neighbour-table
overflows (table_fulls) during it. Between two sources (untimed) the lab's learned
neighbour entries are deleted, so each fping starts with the table netcheck started with.
fping's time is not in netcheck's figures. `--fping-every K`: fping from every K-th source
only, its time scaled to all sources (big N).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SUBNET = ipaddress.ip_network("10.231.0.0/21")


def dead_names(n: int, dead_pct: int) -> list[str]:
    return [f"d{i}" for i in range(n * dead_pct // 100)]


def scenario(n: int, dead_pct: int = 0) -> str:
    hosts = list(SUBNET.hosts())
    dead = dead_names(n, dead_pct)
    live = [f"c{i}" for i in range(n - len(dead))]
    lines = [
        f"name: mesh-{n}",
        f"description: full icmp mesh of {n} macvlan endpoints",
        "runtime: netns",
        "lab:",
        "  lans:",
        f"    lan: {{subnet: {SUBNET}}}",
        "  hosts:",
        "    h1:",
        "      uplinks:",
        f"        - {{ifname: eth0, lan: lan, ip: {hosts[0]}}}",
    ]
    if dead:
        lines.append("  machines:")
        for i, name in enumerate(dead):
            lines.append(f"    {name}: {{lan: lan, ip: {hosts[1000 + i]}, state: down}}")
    lines += [
        "networks:",
        "  net:",
        "    driver: macvlan",
        "    parent: eth0",
        "    macvlan_mode: bridge",
        "    subnets:",
        f"      - subnet: {SUBNET}",
        "endpoints:",
    ]
    for i, name in enumerate(live):
        lines += [f"  {name}:", "    host: h1", f"    networks: {{net: {{ip: {hosts[10 + i]}}}}}"]
    lines += ["expectations:", f"  - mesh: [{', '.join(live)}]", "    probe: icmp"]
    if dead:
        lines += [f"  - from: [{', '.join(live)}]", f"    to: [{', '.join(dead)}]",
                  "    reachable: false", "    probe: icmp"]
    return "\n".join(lines) + "\n"


def _table_fulls() -> int:
    from netcheck.probes.pool import neighbour_overflows

    return neighbour_overflows().get(4, 0)


class _Flusher:
    """One neighbour socket per lab namespace (opened from a thread that enters each), so
    the learned entries of the whole lab go in a few ms between two fping sources."""

    def __init__(self, paths: list[str]) -> None:
        from netcheck.probes.neigh import NeighSocket

        self.socks: list[Any] = []

        def open_all() -> None:
            from netcheck.probes._netns import enter_netns

            for path in paths:  # this thread's namespace only; it ends with the loop
                enter_netns(path)
                self.socks.append(NeighSocket())

        t = threading.Thread(target=open_all)
        t.start()
        t.join()

    def flush(self) -> None:
        from netcheck.probes.neigh import NUD_KEEP

        for sock in self.socks:
            for e in sock.dump():
                if not e.deleted and not e.state & NUD_KEEP:
                    sock.delete(e)

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


def _fping(topology: Any, timeout: float, out: dict[str, Any], every: int) -> None:
    nodes = [n for name, n in sorted(topology.nodes.items()) if name[0] in "cd"
             and name[1:].isdigit()]
    live = [n for n in nodes if n.name.startswith("c")]
    addr = {n.name: str(n.interfaces[0].address) for n in nodes}
    flusher = _Flusher([str(n.netns) for n in live])
    wall = 0.0
    answered = probes = fulls = 0
    sources = live[::every]
    try:
        for src in sources:
            flusher.flush()
            time.sleep(0.05)  # deletions are asynchronous: let them land (untimed)
            targets = [addr[d.name] for d in nodes if d is not src]
            probes += len(targets)
            before = _table_fulls()
            t0 = time.monotonic()
            proc = subprocess.run(
                ["nsenter", f"--net={src.netns}", "--", "fping", "-c1",
                 f"-t{int(timeout * 1000)}", "-q", *targets],
                capture_output=True, text=True, check=False,
            )
            wall += time.monotonic() - t0
            fulls += _table_fulls() - before
            # -q -c1 summarises every target on stderr: "ADDR : xmt/rcv/%loss = 1/1/0%"
            answered += sum(1 for line in proc.stderr.splitlines() if "= 1/1/" in line)
        flusher.flush()
    finally:
        flusher.close()
    out.update(
        fping_s=round(wall * len(live) / len(sources), 3), fping_probes=probes,
        fping_sources=f"{len(sources)}/{len(live)}", fping_answered=answered,
        fping_table_fulls=fulls,
    )


def one(n: int, timeout: float, dead_pct: int, every: int, grow: bool) -> dict[str, Any]:
    """Run one size in this process; the figures as a dict."""
    from rich.console import Console

    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.model.results import Outcome
    from netcheck.reports import write_reports
    from netcheck.reports.console import render_plain
    from netcheck.scenario import load_plan

    extra: dict[str, Any] = {}
    inspect_s = 0.0

    def inspect(topology: Any) -> None:
        nonlocal inspect_s
        t0 = time.monotonic()
        _fping(topology, timeout, extra, every)
        inspect_s = time.monotonic() - t0

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mesh-{n}.yaml"
        path.write_text(scenario(n, dead_pct))
        plan = load_plan(path)
        fulls = _table_fulls()
        t0 = time.monotonic()
        record = run_plan(plan, RunOptions(runtime="netns", timeout=timeout, inspect=inspect,
                                           grow_neigh_table=grow))
        whole = time.monotonic() - t0 - inspect_s
        # What `netcheck run` does next: the console summary and the three reports.
        t1 = time.monotonic()
        console = Console(file=io.StringIO(), width=120)
        render_plain(record, console)
        console_s = time.monotonic() - t1
        t1 = time.monotonic()
        write_reports(record, {"json": Path(tmp) / "run.json", "junit": Path(tmp) / "junit.xml",
                               "html": Path(tmp) / "report.html"}, plan=plan)
        reports_s = time.monotonic() - t1
        sizes = {p.name: p.stat().st_size for p in Path(tmp).iterdir() if p.suffix != ".yaml"}
    fulls = _table_fulls() - fulls - extra.get("fping_table_fulls", 0)
    counts = record.counts()
    unreachable = [v for v in record.verdicts if v.expected.startswith("unreachable")]
    return {
        "n": n, "dead": len(dead_names(n, dead_pct)), "probes": len(record.verdicts),
        "whole_s": round(whole, 3), "phase_s": dict(record.phase_s),
        "console_s": round(console_s, 3), "reports_s": round(reports_s, 3),
        "cli_s": round(whole + console_s + reports_s, 3),
        "report_mb": {k: round(v / 1e6, 1) for k, v in sizes.items()},
        "passed": counts[Outcome.PASS], "failed": counts[Outcome.FAIL],
        "errors": counts[Outcome.ERROR],
        "unreachable_passed": sum(1 for v in unreachable if v.outcome is Outcome.PASS),
        "unreachable": len(unreachable), "table_fulls": fulls,
        "rss_mb": round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024),
        "neigh_table": record.facts.get("neigh_table", "default"),
        "load": os.getloadavg()[0],
        **extra,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="10,50,100,250")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--dead", type=int, default=0, help="percent of endpoints dead")
    p.add_argument("--grow-neigh-table", action="store_true", help="as `netcheck run`'s flag")
    p.add_argument("--lock", help="flock this file around each size (a shared lab machine)")
    p.add_argument("--fping-every", type=int, default=1,
                   help="fping from every k-th source only, its time scaled (big N)")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.timeout, args.dead, args.fping_every,
                             args.grow_neigh_table)))
        return 0
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        lock = ["flock", "-o", args.lock] if args.lock else []
        every = max(1, min(args.fping_every, n // 10)) if n >= 100 else 1
        proc = subprocess.run(
            [*lock, sys.executable, __file__, "--one", str(n), "--timeout", str(args.timeout),
             "--dead", str(args.dead), "--fping-every", str(every),
             *(["--grow-neigh-table"] if args.grow_neigh_table else [])],
            capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": "."},
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'N':>4} {'dead':>4} {'probes':>7} {'whole':>7} {'build':>6} {'probe':>6} "
          f"{'diag':>6} {'down':>6} {'reports':>7} {'cli':>7} {'pass':>6} "
          f"{'fail':>5} {'err':>4} {'unr.ok':>11} "
          f"{'fulls':>5} {'rss':>6} {'load':>5} | {'fping':>7} {'answered':>12} {'fulls':>5} "
          f"{'fping/netcheck':>14}")
    for r in rows:
        ph = r["phase_s"]
        print(f"{r['n']:>4} {r['dead']:>4} {r['probes']:>7} {r['whole_s']:>6.2f}s "
              f"{ph.get('build', 0):>5.2f}s {ph.get('probe', 0):>5.2f}s "
              f"{ph.get('diagnose', 0):>5.2f}s {ph.get('teardown', 0):>5.2f}s "
              f"{r['reports_s'] + r['console_s']:>6.2f}s {r['cli_s']:>6.2f}s {r['passed']:>6} "
              f"{r['failed']:>5} {r['errors']:>4} "
              f"{r['unreachable_passed']:>5}/{r['unreachable']:<5} {r['table_fulls']:>5} "
              f"{r['rss_mb']:>4}MB {r['load']:>5.1f} | {r['fping_s']:>6.2f}s "
              f"{r['fping_answered']:>6}/{r['fping_probes']:<5} {r['fping_table_fulls']:>5} "
              f"{r['fping_s'] / max(r['whole_s'], 1e-3):>13.1f}x")
    print(f"timeout {args.timeout}s, dead {args.dead}%, neighbour table: "
          f"{'grown (--grow-neigh-table)' if args.grow_neigh_table else 'as the host has it'}; "
          "whole = run_plan without fping; reports = console summary + JSON, JUnit, HTML "
          "written as `netcheck run` does; cli = whole + reports; "
          "unr.ok = expected-unreachable probes that passed; "
          "fulls = kernel neighbour-table overflows; load = 1-min load average after the "
          "run; fping one live source after another (sources: "
          f"{', '.join(r['fping_sources'] for r in rows)}, time scaled to all); "
          "rss = peak of the largest process")
    for r in rows:
        print(f"N={r['n']}: neigh_table {r['neigh_table']}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
