"""Multi-host lab figures, through the engine (build -> probe -> teardown) on real lab daemons.

    .venv/bin/python benchmarks/multihost.py [--rounds 2] [--hosts 4] [--per-host 4]

1. A 2-host lab with a swarm overlay (scenarios/multihost/overlay-two-hosts.yaml without
   its encrypted network): time to bring it up (build) and down (teardown).
2. A matrix: N hosts, one macvlan slice per host on one shared subnet plus one swarm
   overlay, M containers per host on both; every container pings every other one on the
   macvlan and on the overlay. Total run time and its split: setup (build + listeners),
   probes (+ diagnosis), teardown.
Prints one JSON object per measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.plan import Plan
from netcheck.scenario import load_plan

ROOT = Path(__file__).resolve().parent.parent


def two_host_overlay() -> Plan:
    """overlay-two-hosts.yaml without its encrypted network (a skip here; it costs nothing)."""
    plan = load_plan(ROOT / "scenarios" / "multihost" / "overlay-two-hosts.yaml")
    keep = {ep.name for ep in plan.endpoints if not ep.name.startswith("vault")}
    return dataclasses.replace(
        plan,
        networks=tuple(n for n in plan.networks if n.name != "secure"),
        endpoints=tuple(ep for ep in plan.endpoints if ep.name in keep),
        expectations=tuple(
            e for e in plan.expectations if e.source in keep and e.target.node in keep
        ),
    )


def matrix(hosts: int, per_host: int) -> str:
    lines = [
        "name: multihost-matrix",
        "description: macvlan slices + one overlay across lab hosts, full mesh",
        "runtime: docker",
        "lab:",
        "  lans:",
        "    lan: {subnet: 192.168.40.0/24, gateway: 192.168.40.1}",
        "  router: {}",
        "  hosts:",
    ]
    for h in range(1, hosts + 1):
        uplink = f"{{ifname: eth0, lan: lan, ip: 192.168.40.{100 + h}}}"
        lines.append(f"    h{h}: {{uplinks: [{uplink}]}}")
    lines.append("networks:")
    for h in range(1, hosts + 1):
        lines += [
            f"  mv{h}:",
            "    driver: macvlan",
            "    parent: eth0",
            "    subnets: [{subnet: 172.30.0.0/16, gateway: 172.30.0.1, "
            f"ip_range: 172.30.{h}.0/24}}]",
        ]
    lines += ["  over:", "    driver: overlay", "    subnets: [{subnet: 10.250.0.0/16}]"]
    names = []
    lines.append("endpoints:")
    for h in range(1, hosts + 1):
        for c in range(1, per_host + 1):
            name = f"c{h}x{c}"
            names.append(name)
            lines.append(f"  {name}: {{host: h{h}, networks: [mv{h}, over]}}")
    lines += [
        "expectations:",
        f"  - mesh: [{', '.join(names)}]",
        "    probe: icmp",
        f"  - from: [{', '.join(names)}]",
        f"    to: [{', '.join(n + '@over' for n in names)}]",
        "    probe: icmp",
    ]
    return "\n".join(lines) + "\n"


def from_text(text: str, name: str) -> Plan:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text)
        return load_plan(path)


def run_plan_timed(plan: Plan, name: str) -> dict[str, object]:
    started = time.monotonic()
    record = run_plan(plan, RunOptions(runtime="docker"))
    total = time.monotonic() - started
    ph = dict(record.phase_s)
    counts = {k.value: v for k, v in record.counts().items() if v}
    return {
        "scenario": name,
        "total_s": round(total, 2),
        "setup_s": round(ph.get("build", 0.0) + ph.get("listen", 0.0), 2),
        "probes_s": round(ph.get("probe", 0.0) + ph.get("diagnose", 0.0), 2),
        "teardown_s": round(ph.get("teardown", 0.0), 2),
        "phases": {k: round(v, 2) for k, v in ph.items()},
        "expectations": len(record.verdicts),
        "outcomes": counts,
        "containers": sum(1 for n in (record.topology.nodes.values() if record.topology else ())
                          if n.kind.value == "endpoint"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--per-host", type=int, default=4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ups, downs = [], []
    for _ in range(args.rounds):
        got = run_plan_timed(two_host_overlay(), "overlay-two-hosts")
        ups.append(float(got["setup_s"]))  # type: ignore[arg-type]
        downs.append(float(got["teardown_s"]))  # type: ignore[arg-type]
        print(json.dumps(got), flush=True)
    print(json.dumps({"two_host_overlay": {"up_median_s": statistics.median(ups),
                                           "down_median_s": statistics.median(downs)}}))
    for _ in range(args.rounds):
        plan = from_text(matrix(args.hosts, args.per_host), "multihost-matrix")
        print(json.dumps(run_plan_timed(plan, "multihost-matrix")),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
