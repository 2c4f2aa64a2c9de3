"""`netcheck discover` of a host with 4 networks and 20 containers, probes included.

    sudo flock /tmp/netcheck-lab.lock .venv/bin/python benchmarks/discover.py [--rounds 3]

The host is made the way a user would make it (tests/discover/existing.py): 4 unlabelled
`--internal` bridge networks on the local daemon with 5 containers each, one container on two
networks; nothing can leave the machine. Each round runs the whole discover in process
(read the daemon, derive, load the text back, probe every check through the engine, render,
load back again) and writes the file, and prints one JSON line: the whole time, its split
(read, probe, write) and the engine's own phases inside the probe step. A dockerd is started
when none answers (scripts/start-dockerd.sh) and stopped by its pid afterwards.
Target: well under a minute for the whole discover.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netcheck.discover.pipeline import DiscoverOptions, discover
from netcheck.textfile import write_text_atomic
from tests.discover.existing import existing_host

ROOT = Path(__file__).resolve().parent.parent


def _others(client: object, mine: set[str]) -> tuple[str, ...]:
    api = client.api  # type: ignore[attr-defined]
    names = {n["Name"] for n in api.networks()}
    names |= {c["Names"][0].lstrip("/") for c in api.containers(all=True)}
    return tuple(sorted(names - mine - {"bridge", "host", "none"}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--networks", type=int, default=4)
    ap.add_argument("--per-network", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=1.0, help="probe timeout (as run's)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = subprocess.run(["sh", str(ROOT / "scripts" / "start-dockerd.sh")],
                             capture_output=True, text=True, check=True).stdout.split()
    pid = int(started[-1]) if started[-2:-1] == ["started"] else None
    try:
        import docker

        from netcheck.image import ensure_image

        client = docker.from_env(version="auto")
        ensure_image(client)
        totals = []
        with existing_host(client, (args.per_network,) * args.networks) as host, \
                tempfile.TemporaryDirectory() as tmp:
            exclude = _others(client, {*host.networks, *host.containers})
            for n in range(args.rounds):
                t0 = time.monotonic()
                result = discover(DiscoverOptions(exclude=exclude, timeout=args.timeout))
                write_text_atomic(Path(tmp) / "discovered.yaml", result.text)
                total = time.monotonic() - t0
                totals.append(total)
                phases = result.record.phase_s if result.record is not None else {}
                print(json.dumps({
                    "round": n + 1,
                    "networks": len(host.networks),
                    "containers": len(host.containers),
                    "checks": result.checks,
                    "failing_now": len(result.failures),
                    "total_s": round(total, 2),
                    "split_s": {k: round(v, 2) for k, v in result.seconds.items()},
                    "engine_phases_s": phases,
                }), flush=True)
        print(json.dumps({"median_total_s": round(statistics.median(totals), 2),
                          "target": "well under 60 s"}))
    finally:
        if pid is not None:
            subprocess.run(["kill", "-TERM", str(pid)], check=False)
            while subprocess.run(["kill", "-0", str(pid)], capture_output=True,
                                 check=False).returncode == 0:
                time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
