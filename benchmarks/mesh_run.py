"""A full ICMP mesh the way users run it: a scenario FILE through the engine `netcheck run` uses.

    sudo .venv/bin/python benchmarks/mesh_run.py [--sizes 10,50,100,250] [--timeout 1.0]
                             [--pace auto|never] [--dead 0] [--lock /tmp/netcheck-lab.lock]

For each N a scenario file is written (one lab LAN, one host, one macvlan network in bridge
mode on the netns runtime, N endpoints, `mesh:` of all of them, probe icmp) and run in a
fresh process by `run_plan(load_plan(file))`, as the CLI does: whole run and its phases
(build, listen, probe, diagnose, teardown), verdicts (passed / failed / errors) and the peak
RSS of the process tree. On the same lab, after netcheck's probes and before its teardown
(the engine's `inspect` hook), the baseline: `fping -c1` once per source namespace, one
after another, as a shell loop over `ip netns exec` would; its time, the pairs it saw
answered and the kernel's neighbour-table overflows (table_fulls) during it. fping's time
is not in netcheck's figures. `--dead P`: P% of the endpoints have their link down after
the build; their own probes cannot be sent (errors, counted apart as "from dead").
`--pace never` is the old behaviour (every probe at once), for comparison.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUBNET = ipaddress.ip_network("10.231.0.0/21")


def scenario(n: int) -> str:
    hosts = list(SUBNET.hosts())
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
        "networks:",
        "  net:",
        "    driver: macvlan",
        "    parent: eth0",
        "    macvlan_mode: bridge",
        "    subnets:",
        f"      - subnet: {SUBNET}",
        "endpoints:",
    ]
    for i in range(n):
        lines += [f"  c{i}:", "    host: h1", f"    networks: {{net: {{ip: {hosts[10 + i]}}}}}"]
    lines += ["expectations:", f"  - mesh: [{', '.join(f'c{i}' for i in range(n))}]",
              "    probe: icmp"]
    return "\n".join(lines) + "\n"


def _table_fulls() -> int:
    from netcheck.probes.pool import neighbour_overflows

    return neighbour_overflows().get(4, 0)


def _fping(
    topology: Any, timeout: float, out: dict[str, Any], dead: set[str], every: int
) -> None:
    nodes = [n for name, n in sorted(topology.nodes.items()) if name.startswith("c")]
    addr = {n.name: str(n.interfaces[0].address) for n in nodes}
    fulls = _table_fulls()
    t0 = time.monotonic()
    answered = 0
    probes = 0
    sources = [n for n in nodes if n.name not in dead]
    for src in sources[::every]:
        targets = [addr[d.name] for d in nodes if d is not src]
        probes += len(targets)
        proc = subprocess.run(
            ["nsenter", f"--net={src.netns}", "--", "fping", "-c1", f"-t{int(timeout * 1000)}",
             "-q", *targets],
            capture_output=True, text=True, check=False,
        )
        # -q -c1 summarises every target on stderr: "ADDR : xmt/rcv/%loss = 1/1/0%"
        answered += sum(1 for line in proc.stderr.splitlines() if "= 1/1/" in line)
    out["fping_wall_s"] = time.monotonic() - t0
    # Sampled (every k-th source): the time is scaled to all sources.
    scale = len(sources) / len(sources[::every])
    out.update(
        fping_s=round((time.monotonic() - t0) * scale, 3), fping_probes=probes,
        fping_sources=f"{len(sources[::every])}/{len(sources)}",
        fping_answered=answered, fping_table_fulls=_table_fulls() - fulls,
    )


def one(n: int, timeout: float, pace: str, dead_pct: int, every: int) -> dict[str, Any]:
    """Run one size in this process; the figures as a dict."""
    from pyroute2 import IPRoute

    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.model.results import Outcome
    from netcheck.probes import pool
    from netcheck.scenario import load_plan

    if pace == "never":
        pool.DEFAULT_PACE = "never"
    dead = {f"c{i}" for i in range(0, n, 100 // dead_pct)} if dead_pct else set()

    def kill(topology: Any) -> None:
        for name in dead:
            node = topology.nodes[name]
            with IPRoute(netns=node.netns, flags=0) as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname=node.interfaces[0].ifname)[0],
                         state="down")

    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mesh-{n}.yaml"
        path.write_text(scenario(n))
        plan = load_plan(path)
        fulls = _table_fulls()
        record = run_plan(plan, RunOptions(
            runtime="netns", timeout=timeout, after_build=kill if dead else None,
            inspect=lambda topo: _fping(topo, timeout, extra, dead, every),
        ))
    fulls = _table_fulls() - fulls - extra.get("fping_table_fulls", 0)
    fping_wall = extra.get("fping_wall_s", 0.0)
    counts = record.counts()
    from_dead = sum(1 for v in record.verdicts if v.outcome is Outcome.ERROR
                    and v.expectation_id.split(":", 1)[1].split("->")[0] in dead)
    return {
        "n": n, "probes": len(record.verdicts), "whole_s": round(record.duration_s - fping_wall, 3),
        "phase_s": dict(record.phase_s), "passed": counts[Outcome.PASS],
        "failed": counts[Outcome.FAIL], "errors": counts[Outcome.ERROR] - from_dead,
        "errors_from_dead": from_dead, "table_fulls": fulls,
        "rss_mb": round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024),
        "rss_main_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **extra,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="10,50,100,250")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--pace", choices=("auto", "never"), default="auto")
    p.add_argument("--dead", type=int, default=0, help="percent of endpoints down")
    p.add_argument("--lock", help="flock this file around each size (a shared lab machine)")
    p.add_argument("--fping-every", type=int, default=1,
                   help="fping from every k-th source only, its time scaled (big N)")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.timeout, args.pace, args.dead, args.fping_every)))
        return 0
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        lock = ["flock", args.lock] if args.lock else []
        proc = subprocess.run(
            [*lock, sys.executable, __file__, "--one", str(n), "--timeout", str(args.timeout),
             "--pace", args.pace, "--dead", str(args.dead), "--fping-every",
             str(args.fping_every)],
            capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": "."},
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'N':>4} {'probes':>7} {'whole':>7} {'build':>6} {'probe':>6} {'diag':>6} "
          f"{'down':>6} {'pass':>6} {'fail':>5} {'err':>5} {'fulls':>6} {'rss':>6} | "
          f"{'fping':>7} {'answered':>9} {'fulls':>6} {'fping/probe':>11}")
    for r in rows:
        ph = r["phase_s"]
        print(f"{r['n']:>4} {r['probes']:>7} {r['whole_s']:>6.2f}s {ph.get('build', 0):>5.2f}s "
              f"{ph.get('probe', 0):>5.2f}s {ph.get('diagnose', 0):>5.2f}s "
              f"{ph.get('teardown', 0):>5.2f}s {r['passed']:>6} {r['failed']:>5} "
              f"{r['errors']:>5} {r['table_fulls']:>6} {r['rss_mb']:>4}MB | "
              f"{r['fping_s']:>6.2f}s {r['fping_answered']:>5}/{r['fping_probes']:<5} "
              f"{r['fping_table_fulls']:>6} {r['fping_s'] / max(ph.get('probe', 1), 1e-3):>10.1f}x")
    print(f"timeout {args.timeout}s, pace {args.pace}, dead {args.dead}%; whole = run_plan "
          "without fping; fulls = kernel neighbour-table overflows; fping one source after "
          "another on the same lab (sources: "
          f"{', '.join(r['fping_sources'] for r in rows)}, time scaled); rss = peak of the "
          "largest process")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
