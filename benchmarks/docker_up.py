"""20 containers on one macvlan network, up and down: netcheck's docker runtime against the
docker CLI doing the same in parallel, on the same kind of lab daemon, in the same run.

    .venv/bin/python benchmarks/docker_up.py [--containers 20] [--rounds 3]

netcheck's figure is its network + container phases of `build` (the lab underlay and the
daemon start are the same for both and timed apart); the CLI's is `docker network create`
plus N parallel `docker run -d`. Down: removing the containers, both in parallel.
Prints one line per round and the median ratio (target: up <= 1.3x the CLI).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netcheck.image import DEFAULT_IMAGE
from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Host,
    Lab,
    Lan,
    MacvlanMode,
    Network,
    Plan,
    Subnet,
    Uplink,
)
from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.docker import DockerRuntime

A = ipaddress.ip_address
N = ipaddress.ip_network
SUBNET = N("172.16.86.0/24")


def make_plan(n: int) -> Plan:
    lab = Lab(
        lans=(Lan(name="lan", subnet=SUBNET, gateway=A("172.16.86.1")),),
        hosts=(
            Host(name="h1", uplinks=(Uplink(ifname="eth0", lan="lan", ip=A("172.16.86.250")),)),
        ),
    )
    pub = Network(
        name="pub", driver=Driver.MACVLAN, parent="eth0", macvlan_mode=MacvlanMode.BRIDGE,
        subnets=(Subnet(subnet=SUBNET, gateway=A("172.16.86.1"), ip_range=N("172.16.86.128/25")),),
    )  # fmt: skip
    endpoints = tuple(
        Endpoint(name=f"c{i}", host="h1",
                 attachments=(Attachment(network="pub", ip=A(f"172.16.86.{10 + i}")),))
        for i in range(n)
    )  # fmt: skip
    return Plan(name="bench", source="bench", description=None, lab=lab, networks=(pub,),
                endpoints=endpoints, expectations=())  # fmt: skip


def netcheck_round(n: int) -> tuple[float, float, dict[str, float]]:
    rt = DockerRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
    try:
        rt.build(make_plan(n), lambda _: None)
        up = rt.timings["networks"] + rt.timings["containers"]
    finally:
        rt.teardown()
    return up, rt.timings.get("containers_down", float("nan")), dict(rt.timings)


def parallel(argvs: list[list[str]]) -> float:
    t = time.monotonic()
    procs = [subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for a in argvs]
    for p, a in zip(procs, argvs, strict=True):
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(a)}: {err.decode().strip()}")
    return time.monotonic() - t


def cli_round(n: int) -> tuple[float, float]:
    # The same underlay and daemon, but no endpoints or networks: the CLI makes those.
    base = make_plan(0)
    rt = DockerRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
    try:
        rt.build(
            Plan(name="cli", source="cli", description=None, lab=base.lab, networks=(),
                 endpoints=(Endpoint(name="warm", host="h1", attachments=()),),
                 expectations=()),
            lambda _: None,
        )  # fmt: skip
        url = rt._daemons["h1"].url  # the lab daemon the CLI talks to
        docker = ["docker", "-H", url]
        t = time.monotonic()
        subprocess.run(
            [*docker, "network", "create", "-d", "macvlan", "--subnet", str(SUBNET),
             "--gateway", "172.16.86.1", "--ip-range", "172.16.86.128/25",
             "-o", "parent=eth0", "-o", "macvlan_mode=bridge", "pub"],
            check=True, capture_output=True,
        )  # fmt: skip
        runs = [
            [*docker, "run", "-d", "--name", f"cli{i}", "--network", "pub",
             "--ip", f"172.16.86.{10 + i}", DEFAULT_IMAGE, "sleep", "2147483647"]
            for i in range(n)
        ]  # fmt: skip
        parallel(runs)
        up = time.monotonic() - t
        down = parallel([[*docker, "rm", "-f", f"cli{i}"] for i in range(n)])
    finally:
        rt.teardown()
    return up, down


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ratios_up, ratios_down = [], []
    for r in range(args.rounds):
        nc_up, nc_down, timings = netcheck_round(args.containers)
        cli_up, cli_down = cli_round(args.containers)
        ratios_up.append(nc_up / cli_up)
        ratios_down.append(nc_down / cli_down)
        print(
            f"round {r + 1}: up netcheck {nc_up:.2f}s cli {cli_up:.2f}s "
            f"ratio {nc_up / cli_up:.2f} | down netcheck {nc_down:.2f}s cli {cli_down:.2f}s "
            f"ratio {nc_down / cli_down:.2f} | underlay {timings['underlay']:.2f}s "
            f"daemon {timings['daemons']:.2f}s"
        )
    up, down = statistics.median(ratios_up), statistics.median(ratios_down)
    print(f"median ratio up {up:.2f} (target <= 1.30) down {down:.2f} "
          f"({args.containers} containers, {args.rounds} rounds)")  # fmt: skip
    return 0 if up <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
