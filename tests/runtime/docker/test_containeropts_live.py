"""Container options on a real daemon (real-host mode, bridge networks only): the
container's resolv.conf, its MAC, its MTU and the start order as Docker made them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.model.plan import Attachment, Driver, Endpoint, Lab, Network, Plan, Subnet
from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.docker import DockerRuntime
from netcheck.runtime.naming import NODE_LABEL, RUN_LABEL
from tests.runtime.docker.conftest import addr, labelled, net

pytestmark = [pytest.mark.docker, pytest.mark.privileged]


@pytest.fixture
def runtime(docker_client: Any) -> Iterator[DockerRuntime]:
    rt = DockerRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
    yield rt
    rt.teardown()
    assert labelled(docker_client, rt.run_id) == []


def root_of(netns: str) -> Path:
    # /proc/PID/ns/net -> /proc/PID/root: the container's own files and sysfs.
    return Path(netns).parent.parent / "root"


def test_dns_mac_mtu_and_start_order_reach_the_containers(
    runtime: DockerRuntime, docker_client: Any
) -> None:
    optnet = Network(name="optnet", driver=Driver.BRIDGE, subnets=(Subnet(
        subnet=net("10.250.9.0/24"), gateway=addr("10.250.9.1"),
        ip_range=net("10.250.9.128/25")),))
    dns = (addr("10.250.9.53"),)
    eps = (
        # File order c, b, a; started a, then b, then c: IPAM serves them in that order.
        Endpoint(name="c", host=None, attachments=(Attachment(network="optnet"),),
                 depends_on=("b",)),
        Endpoint(name="b", host=None, attachments=(Attachment(network="optnet"),),
                 depends_on=("a",)),
        Endpoint(name="a", host=None, attachments=(
            Attachment(network="optnet", mac="02:42:aa:00:00:01", mtu=1400),),
            dns=dns, dns_search=("lab.example",)),
        Endpoint(name="d", host=None, attachments=(Attachment(network="bridge"),), dns=dns),
    )
    plan = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=(optnet,),
                endpoints=eps, expectations=())
    nodes = runtime.build(plan, lambda _: None).topology.nodes
    a, b, c, d = (nodes[n] for n in "abcd")

    resolv = (root_of(a.netns) / "etc/resolv.conf").read_text().splitlines()
    assert "search lab.example" in resolv
    # A user-defined network: resolv.conf names the embedded DNS, which forwards to --dns
    # (Docker keeps the servers in the container's config, not in the file).
    assert "nameserver 127.0.0.11" in resolv
    assert str(a.resolver) == "127.0.0.11"
    made = {c.labels[NODE_LABEL]: c for c in docker_client.containers.list(
        all=True, filters={"label": f"{RUN_LABEL}={runtime.run_id}"})}
    assert made["a"].attrs["HostConfig"]["Dns"] == ["10.250.9.53"]
    assert made["a"].attrs["HostConfig"]["DnsSearch"] == ["lab.example"]
    assert not made["b"].attrs["HostConfig"]["Dns"]
    # The default bridge has no embedded DNS: --dns is resolv.conf, and the probe asks it.
    assert "nameserver 10.250.9.53" in (root_of(d.netns) / "etc/resolv.conf").read_text()
    assert d.resolver == dns[0]

    iface = a.interfaces[0]
    assert iface.mac == "02:42:aa:00:00:01"
    sys_net = root_of(a.netns) / "sys/class/net" / iface.ifname
    assert (sys_net / "mtu").read_text().strip() == "1400"
    assert (root_of(b.netns) / "sys/class/net" / b.interfaces[0].ifname / "mtu"
            ).read_text().strip() == "1500"

    got = [n.address_on("optnet") for n in (a, b, c)]
    assert all(g is not None and g in net("10.250.9.128/25") for g in got)
    assert got == sorted(got), got  # a started first, so it holds the lowest address
