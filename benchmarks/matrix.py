"""All-pairs ICMP matrix on the netns runtime, against fping run per source namespace.

    sudo .venv/bin/python benchmarks/matrix.py [--sizes 10,25,50] [--timeout 1.0]

For each N: N containers on one macvlan (bridge) network on one lab LAN; 10% of them are
dead (their interface is down after the build). Every live container pings every other.
Both netcheck and the baseline (`fping -c1` once per source namespace, one after another,
the way a shell loop over `ip netns exec` would) run on the same lab in the same process
(with permanent neighbour entries: see seed_neighbours);
the two must agree on who is alive, or the benchmark fails. Reported: lab up and down,
netcheck's probe phase, fping's, their ratio, the mean CPU time of one probe worker (its
own `process_time`), and peak RSS. The forkserver is warmed up first, as the engine does in
its listen phase, so the first size does not pay for its one-time preload.
"""

from __future__ import annotations

import argparse
import ipaddress
import resource
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from pyroute2 import IPRoute

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
    ProbeKind,
    ProbeSpec,
    Subnet,
    Uplink,
)
from netcheck.model.results import Node, Observation
from netcheck.probes import run_workers, warm_up
from netcheck.probes.base import ProbeTask
from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.netns import NetnsRuntime

SUBNET = ipaddress.ip_network("10.231.0.0/22")


def plan_for(n: int) -> Plan:
    hosts = list(SUBNET.hosts())
    return Plan(
        name=f"bench-{n}",
        source="benchmarks/matrix.py",
        description=None,
        lab=Lab(
            lans=(Lan(name="lan", subnet=SUBNET, gateway=None),),
            hosts=(Host(name="h1", uplinks=(Uplink(ifname="eth0", lan="lan", ip=hosts[0]),)),),
        ),
        networks=(
            Network(
                name="net",
                driver=Driver.MACVLAN,
                parent="eth0",
                macvlan_mode=MacvlanMode.BRIDGE,
                subnets=(Subnet(subnet=SUBNET),),
            ),
        ),
        endpoints=tuple(
            Endpoint(
                name=f"c{i}",
                host="h1",
                attachments=(Attachment(network="net", ip=hosts[10 + i]),),
            )
            for i in range(n)
        ),
        expectations=(),
    )


@dataclass
class Row:
    n: int
    probes: int
    up_s: float
    down_s: float
    netcheck_s: float
    fping_s: float
    cpu_worker_ms: float
    rss_main_mb: float
    rss_child_mb: float

    @property
    def ratio(self) -> float:
        return self.fping_s / self.netcheck_s


def seed_neighbours(nodes: list[Node]) -> None:
    """Permanent neighbour entries for every pair, in every source namespace.

    The kernel's neighbour table is shared by all namespaces and capped at gc_thresh3 (1024)
    entries that can be garbage-collected; 50 x 49 pairs overflow it and the kernel drops
    probes silently (netcheck reports that as an error). Permanent entries do not count
    against that cap, and both netcheck and fping get the same head start.
    """
    for src in nodes:
        with IPRoute(netns=src.netns, flags=0) as ipr:
            idx = ipr.link_lookup(ifname=src.interfaces[0].ifname)[0]
            for dst in nodes:
                if dst is src:
                    continue
                ipr.neigh(
                    "add", dst=str(dst.interfaces[0].address), lladdr=dst.interfaces[0].mac,
                    ifindex=idx, state=0x80,  # NUD_PERMANENT
                )


def measure(n: int, timeout: float) -> Row:
    plan = plan_for(n)
    rt = NetnsRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
    t0 = time.monotonic()
    built = rt.build(plan, lambda _m: None)
    up = time.monotonic() - t0
    try:
        nodes = [built.topology.nodes[f"c{i}"] for i in range(n)]
        dead = {nodes[i].name for i in range(0, n, 10)}  # every 10th: 10%
        for node in nodes:
            if node.name in dead:
                with IPRoute(netns=node.netns, flags=0) as ipr:
                    idx = ipr.link_lookup(ifname=node.interfaces[0].ifname)[0]
                    ipr.link("set", index=idx, state="down")
        addr = {nd.name: nd.interfaces[0].address for nd in nodes}
        seed_neighbours(nodes)
        live = [nd for nd in nodes if nd.name not in dead]
        tasks = [
            ProbeTask(
                probe_id=f"icmp:{s.name}->{d.name}",
                source=s.name,
                source_site=s.site,
                target=d.name,
                target_address=addr[d.name],  # type: ignore[arg-type]
                probe=ProbeSpec(kind=ProbeKind.ICMP),
            )
            for s in live
            for d in nodes
            if d is not s
        ]
        t0 = time.monotonic()
        results, reports = run_workers(tasks, timeout)
        netcheck_s = time.monotonic() - t0
        cpu_worker_ms = statistics.mean(rep.cpu_s for rep in reports) * 1000
        ours = {r.probe_id for r in results if r.observation is Observation.ANSWERED}
        errors = [r for r in results if r.observation is Observation.ERROR]
        if errors:
            raise SystemExit(f"N={n}: {len(errors)} probes errored, e.g. {errors[0].detail}")

        t0 = time.monotonic()
        theirs: set[str] = set()
        for s in live:
            targets = [str(addr[d.name]) for d in nodes if d is not s]
            back = {str(a): d.name for d, a in ((d, addr[d.name]) for d in nodes)}
            proc = subprocess.run(
                ["nsenter", f"--net={s.netns}", "--", "fping", "-a", "-c1",
                 f"-t{int(timeout * 1000)}", "-q", *targets],
                capture_output=True, text=True, check=False,
            )
            # fping -q -c1 summarises every target on stderr: "ADDR : xmt/rcv/%loss = 1/1/0%"
            for line in proc.stderr.splitlines():
                host, _, stats = line.partition(" : ")
                if "1/1/" in stats:
                    theirs.add(f"icmp:{s.name}->{back[host.strip()]}")
        fping_s = time.monotonic() - t0
        if ours != theirs:
            diff = sorted(ours ^ theirs)[:5]
            raise SystemExit(f"N={n}: netcheck and fping disagree on {diff}")
    finally:
        t0 = time.monotonic()
        rt.teardown()
        down = time.monotonic() - t0
    return Row(
        n=n,
        probes=len(tasks),
        up_s=up,
        down_s=down,
        netcheck_s=netcheck_s,
        fping_s=fping_s,
        cpu_worker_ms=cpu_worker_ms,
        rss_main_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        rss_child_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="10,25,50")
    p.add_argument("--timeout", type=float, default=1.0)
    args = p.parse_args()
    warm_up(wait=True)
    rows = [measure(int(n), args.timeout) for n in args.sizes.split(",")]
    print(
        f"{'N':>4} {'probes':>7} {'lab up':>7} {'down':>6} {'netcheck':>9} {'fping':>7} "
        f"{'ratio':>6} {'cpu/wkr':>8} {'rss main':>9} {'rss child':>10}"
    )
    for r in rows:
        print(
            f"{r.n:>4} {r.probes:>7} {r.up_s:>6.2f}s {r.down_s:>5.2f}s {r.netcheck_s:>8.2f}s "
            f"{r.fping_s:>6.2f}s {r.ratio:>5.1f}x {r.cpu_worker_ms:>6.0f}ms "
            f"{r.rss_main_mb:>7.0f}MB {r.rss_child_mb:>8.0f}MB"
        )
    print(f"timeout {args.timeout}s; ratio = fping per source / netcheck probe phase")
    return 0


if __name__ == "__main__":
    sys.exit(main())
