"""A "pre-existing" Docker host made the way a user would: unlabelled networks and
containers, ONLY `--internal` bridge networks on the local daemon, so no packet can leave
the machine. Used by the live discover test and benchmarks/discover.py."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from netcheck.image import DEFAULT_IMAGE


@dataclass(frozen=True)
class Existing:
    prefix: str
    networks: tuple[str, ...]
    containers: tuple[str, ...]
    multi_homed: str  # the container on the first two networks


def _free_base(client: Any) -> str:
    used = [ipaddress.ip_network(c["Subnet"]) for n in client.api.networks()
            for c in ((n.get("IPAM") or {}).get("Config") or []) if c.get("Subnet")]
    for second in range(232, 250):
        block = ipaddress.ip_network(f"10.{second}.0.0/16")
        if not any(block.overlaps(u) for u in used):
            return f"10.{second}"
    raise RuntimeError("no free 10.x.0.0/16 for the test networks")


@contextmanager
def existing_host(client: Any, sizes: tuple[int, ...] = (3, 2)) -> Iterator[Existing]:
    """Internal networks with `sizes[i]` containers each; the first container is also on
    the second network. Everything is removed afterwards (it carries no netcheck label)."""
    prefix = "ex" + secrets.token_hex(2)
    base = _free_base(client)
    nets: list[Any] = []
    made: list[Any] = []
    try:
        from docker.types import IPAMConfig, IPAMPool

        for i in range(len(sizes)):
            pool = IPAMPool(subnet=f"{base}.{i}.0/24", gateway=f"{base}.{i}.1")
            nets.append(client.networks.create(
                f"{prefix}-net{i}", driver="bridge", internal=True,
                ipam=IPAMConfig(pool_configs=[pool]), check_duplicate=True))
        plan = [(f"{prefix}-c{i}-{j}", nets[i].name) for i, n in enumerate(sizes)
                for j in range(n)]

        def start(item: tuple[str, str]) -> Any:
            name, net = item
            return client.containers.run(DEFAULT_IMAGE, ["sleep", "3600"], name=name,
                                         network=net, detach=True)

        with ThreadPoolExecutor(8) as pool_:
            made += list(pool_.map(start, plan))
        multi = plan[0][0]
        if len(nets) > 1:
            nets[1].connect(multi)
        yield Existing(prefix=prefix, networks=tuple(n.name for n in nets),
                       containers=tuple(name for name, _ in plan), multi_homed=multi)
    finally:
        with ThreadPoolExecutor(8) as pool_:
            list(pool_.map(lambda c: c.remove(force=True), made))
        for n in nets:
            n.remove()
