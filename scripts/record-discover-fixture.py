#!/usr/bin/env python3
"""Record what `netcheck discover` reads from a real dockerd, for its unit tests.

    sudo flock /tmp/netcheck-lab.lock .venv/bin/python scripts/record-discover-fixture.py \
        tests/discover/data/host.json

Creates a small "pre-existing" host the way a user would (unlabelled objects named dsc-*),
only on --internal bridge networks so no packet can leave the machine (an internal
macvlan would get a dummy parent, which this build machine's kernel lacks), inspects it
with the same calls discover makes (`netcheck.discover.reader.read_raw`), keeps the dsc-*
objects and Docker's predefined networks, removes everything it created, writes the JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker
from docker.types import IPAMConfig, IPAMPool

from netcheck.discover.reader import read_raw
from netcheck.image import DEFAULT_IMAGE, ensure_image
from netcheck.runtime.docker.ipam import RUN_LABEL

PREFIX = "dsc-"
PREDEFINED = {"bridge", "host", "none"}


def _net(client: Any, name: str, subnet: str, gateway: str, *, driver: str = "bridge",
         ip_range: str | None = None, aux: dict[str, str] | None = None,
         options: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> Any:
    pool = IPAMPool(subnet=subnet, gateway=gateway, iprange=ip_range, aux_addresses=aux)
    return client.networks.create(
        PREFIX + name, driver=driver, internal=True, ipam=IPAMConfig(pool_configs=[pool]),
        options=options or {}, labels=labels or {}, check_duplicate=True,
    )


def _run(client: Any, name: str, network: str | None, *, ip: str | None = None,
         aliases: list[str] | None = None, start: bool = True, mode: str | None = None,
         labels: dict[str, str] | None = None) -> Any:
    kwargs: dict[str, Any] = {"name": PREFIX + name, "command": ["sleep", "3600"],
                              "labels": labels or {}, "detach": True}
    if mode is not None:
        kwargs["network_mode"] = mode
    else:
        cfg = client.api.create_networking_config({
            PREFIX + network: client.api.create_endpoint_config(ipv4_address=ip,
                                                                aliases=aliases),
        })
        kwargs["network"] = PREFIX + network
        kwargs["networking_config"] = cfg
    # docker-py's create() keeps only the network's name; the endpoint config needs the API.
    container = client.containers.create(DEFAULT_IMAGE, **kwargs)
    if mode is None and (ip or aliases):
        client.api.disconnect_container_from_network(container.id, PREFIX + network)
        client.api.connect_container_to_network(container.id, PREFIX + network,
                                                 ipv4_address=ip, aliases=aliases)
    if start:
        container.start()
    return container


def main(out: str) -> int:
    client = docker.from_env(version="auto")
    ensure_image(client)
    made: list[Any] = []
    nets: list[Any] = []
    try:
        nets.append(_net(client, "backend", "10.231.1.0/24", "10.231.1.1"))
        nets.append(_net(client, "frontend", "10.231.2.0/24", "10.231.2.1",
                         ip_range="10.231.2.128/25", aux={"reserved": "10.231.2.5"}))
        nets.append(_net(client, "iso", "10.231.4.0/24", "10.231.4.1",
                         options={"com.docker.network.bridge.enable_icc": "false"}))
        nets.append(_net(client, "ncown", "10.231.5.0/24", "10.231.5.1",
                         labels={RUN_LABEL: "fixture"}))
        made.append(_run(client, "db", "backend", ip="10.231.1.10", aliases=["database"]))
        web = _run(client, "web", "backend")
        made.append(web)
        client.api.connect_container_to_network(web.id, PREFIX + "frontend", aliases=["www"])
        made.append(_run(client, "cache", "frontend"))
        made.append(_run(client, "iso1", "iso"))
        made.append(_run(client, "iso2", "iso"))
        made.append(_run(client, "stopped", "backend", start=False))
        made.append(_run(client, "nonet", None, mode="none"))
        made.append(_run(client, "ncprobe", "ncown", labels={RUN_LABEL: "fixture"}))
        raw = read_raw(client)
    finally:
        for c in made:
            c.remove(force=True)
        for n in nets:
            n.remove()
    keep = {**raw,
            "networks": [n for n in raw["networks"]
                         if n["Name"].startswith(PREFIX) or n["Name"] in PREDEFINED],
            "containers": [c for c in raw["containers"]
                           if c["Name"].lstrip("/").startswith(PREFIX)]}
    Path(out).write_text(json.dumps(keep, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{out}: {len(keep['networks'])} networks, {len(keep['containers'])} containers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tests/discover/data/host.json"))
