"""A Docker host that already runs things, made the way a user would have made them.

A dockerd of its own in a namespace of its own (the docker runtime's lab daemon, started by
the test, not by netcheck), with a veth `uplink0` as the macvlan parent: nothing touches
the machine's own uplink and no packet can leave it. Through that daemon's API, with no
netcheck label, the setup creates:

- `prod100`: a macvlan network on uplink0 (10.95.100.0/24, range .64/26);
- `backend`: a bridge network (10.95.200.0/24);
- `web-1` (httpd on tcp/80) on both, `db-1` and `victim-1` on backend, `idle-1` created
  but never started.

netcheck then names the host by its socket (`lab.hosts.far.docker: unix://...`), as it
would name any daemon it did not start. `state()` captures what a user would see of those
objects (ids, configuration, state, addresses, membership), so a test can assert that a
run left all of it exactly as it was.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from netcheck.image import DEFAULT_IMAGE, ensure_image
from netcheck.runtime.docker.daemon import LabDaemon
from netcheck.runtime.docker.ipam import RUN_LABEL

PROD_SUBNET = "10.95.100.0/24"
BACKEND_SUBNET = "10.95.200.0/24"
WEB_PROD_IP = "10.95.100.10"


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=10)


@dataclass(frozen=True, slots=True)
class ExistingHost:
    netns: str
    url: str
    daemon: LabDaemon

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.url, version="auto", timeout=60)


def _pick(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: doc.get(k) for k in keys}


def state(client: Any) -> dict[str, Any]:
    """Every unlabelled network and container, as a user would compare them."""
    api = client.api
    nets: dict[str, Any] = {}
    for n in api.networks():
        if RUN_LABEL in (n.get("Labels") or {}):
            continue
        doc = api.inspect_network(n["Id"])
        nets[n["Id"]] = {
            **_pick(doc, "Name", "Driver", "Options", "IPAM", "Internal", "Attachable",
                    "Labels", "Created", "Scope", "EnableIPv6"),
            "Containers": doc.get("Containers") or {},
        }
    containers: dict[str, Any] = {}
    for c in api.containers(all=True):
        if RUN_LABEL in (c.get("Labels") or {}):
            continue
        doc = api.inspect_container(c["Id"])
        containers[c["Id"]] = {
            "Name": doc["Name"],
            "State": _pick(doc["State"], "Status", "Pid", "StartedAt", "FinishedAt",
                           "Running", "Restarting"),
            "RestartCount": doc.get("RestartCount"),
            "Config": _pick(doc["Config"], "Image", "Cmd", "Labels", "Hostname", "Env"),
            "HostConfig": _pick(doc["HostConfig"], "NetworkMode", "RestartPolicy"),
            "Networks": {
                name: _pick(s, "NetworkID", "IPAddress", "MacAddress", "Aliases", "EndpointID")
                for name, s in (doc["NetworkSettings"]["Networks"] or {}).items()
            },
        }
    return {"networks": nets, "containers": containers}


def labelled(client: Any) -> list[str]:
    """Whatever netcheck labelled on this daemon (a finished run leaves none)."""
    api = client.api
    out = [f"container {c['Names']}" for c in api.containers(all=True, filters={
        "label": RUN_LABEL})]
    out += [f"network {n['Name']}" for n in api.networks(filters={"label": RUN_LABEL})]
    return out


def populate(client: Any) -> None:
    """The pre-existing objects, unlabelled, through the daemon's API."""
    ensure_image(client)
    api = client.api
    prod = api.create_network(
        "prod100", driver="macvlan", options={"parent": "uplink0", "macvlan_mode": "bridge"},
        ipam={"Driver": "default", "Config": [{"Subnet": PROD_SUBNET, "Gateway": "10.95.100.1",
                                                "IPRange": "10.95.100.64/26"}]},
    )
    backend = api.create_network(
        "backend", driver="bridge",
        ipam={"Driver": "default", "Config": [{"Subnet": BACKEND_SUBNET,
                                                "Gateway": "10.95.200.1"}]},
    )
    web = api.create_container(
        DEFAULT_IMAGE, command=["httpd", "-f", "-p", "80", "-h", "/"], name="web-1",
        hostname="web-1",
        host_config=api.create_host_config(network_mode="prod100"),
        networking_config={"EndpointsConfig": {"prod100": {
            "IPAMConfig": {"IPv4Address": WEB_PROD_IP}}}},
    )
    api.connect_container_to_network(web["Id"], backend["Id"])
    api.start(web["Id"])
    for name in ("db-1", "victim-1"):
        c = api.create_container(DEFAULT_IMAGE, command=["sleep", "2147483647"], name=name,
                                 host_config=api.create_host_config(network_mode="backend"))
        api.start(c["Id"])
    api.create_container(DEFAULT_IMAGE, command=["sleep", "1"], name="idle-1",
                         host_config=api.create_host_config(network_mode="backend"))
    assert prod["Id"] and backend["Id"]


def add_uplink(ns: str) -> None:
    """uplink0, the macvlan parent: a veth whose peer stays in the same namespace."""
    _ip("-n", ns, "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink0p")
    for dev in ("lo", "uplink0", "uplink0p"):
        _ip("-n", ns, "link", "set", dev, "up")


@contextlib.contextmanager
def existing_host() -> Iterator[ExistingHost]:
    tag = secrets.token_hex(3)
    ns = f"nctest-{tag}-far"
    daemon: LabDaemon | None = None
    try:
        _ip("netns", "add", ns)
        add_uplink(ns)
        daemon = LabDaemon(run_id=f"nctest{tag}", host="far", netns=f"/run/netns/{ns}",
                           default_pool="10.94.0.0/16")
        daemon.start()
        daemon.wait_ready()
        host = ExistingHost(netns=f"/run/netns/{ns}", url=daemon.url, daemon=daemon)
        client = host.client()
        try:
            populate(client)
        finally:
            client.close()
        yield host
    finally:
        if daemon is not None:
            daemon.stop()  # by pid; its containers go with it
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


UNDERLAY = """
name: existing-swarm
lab:
  lans:
    lan: {subnet: 10.92.0.0/24}
  hosts:
    h1: {uplinks: [{ifname: eth0, lan: lan, ip: 10.92.0.11}]}
    h2: {uplinks: [{ifname: eth0, lan: lan, ip: 10.92.0.12}]}
"""
OVERLAY_SUBNET = "10.93.0.0/24"


@dataclass(frozen=True, slots=True)
class ExistingSwarm:
    urls: dict[str, str]  # host -> its dockerd's socket

    def client(self, host: str) -> Any:
        import docker

        return docker.DockerClient(base_url=self.urls[host], version="auto", timeout=60)


@contextlib.contextmanager
def existing_swarm(tmp: Any) -> Iterator[ExistingSwarm]:
    """Two lab hosts on one LAN (the netns runtime's underlay), each with its own dockerd,
    in one swarm, holding an attachable overlay `shared-overlay` with `app-a` on h1 and
    `app-b` on h2, all made by the test, unlabelled."""
    from netcheck.runtime.base import RuntimeOptions, registered
    from netcheck.runtime.naming import new_run_id
    from netcheck.runtime.netns import NetnsRuntime
    from netcheck.scenario import load_plan

    path = tmp / "underlay.yaml"
    path.write_text(UNDERLAY)
    run_id = new_run_id()
    underlay = registered()["netns"](RuntimeOptions(run_id=run_id))
    assert isinstance(underlay, NetnsRuntime)
    daemons: list[LabDaemon] = []
    try:
        topo = underlay.build(load_plan(path), lambda _msg: None).topology
        for host in ("h1", "h2"):
            daemons.append(LabDaemon(run_id=run_id, host=host, netns=topo.nodes[host].netns,
                                     default_pool="10.91.0.0/16"))
        for d in daemons:
            d.start()
        for d in daemons:
            d.wait_ready()
        swarm = ExistingSwarm(urls={d.host: d.url for d in daemons})
        c1, c2 = swarm.client("h1"), swarm.client("h2")
        try:
            for c in (c1, c2):
                ensure_image(c)
            c1.swarm.init(advertise_addr="10.92.0.11", listen_addr="0.0.0.0:2377")
            token = c1.swarm.attrs["JoinTokens"]["Worker"]
            c2.swarm.join(remote_addrs=["10.92.0.11:2377"], join_token=token,
                          advertise_addr="10.92.0.12", listen_addr="0.0.0.0:2377")
            c1.api.create_network("shared-overlay", driver="overlay", attachable=True,
                                  ipam={"Driver": "default",
                                        "Config": [{"Subnet": OVERLAY_SUBNET}]})
            for c, name in ((c1, "app-a"), (c2, "app-b")):
                created = c.api.create_container(
                    DEFAULT_IMAGE, command=["sleep", "2147483647"], name=name,
                    host_config=c.api.create_host_config(network_mode="shared-overlay"))
                c.api.start(created["Id"])
        finally:
            c1.close()
            c2.close()
        yield swarm
    finally:
        for d in daemons:
            d.stop()
        underlay.teardown()
