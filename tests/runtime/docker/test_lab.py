"""The docker runtime in lab mode: a dockerd per lab host namespace on the netns underlay.

Real containers, real macvlan/overlay/bridge networks, real pings; all inside the lab.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Host,
    Lab,
    Lan,
    Machine,
    MacvlanMode,
    Network,
    Plan,
    Router,
    Subnet,
    Uplink,
)
from netcheck.model.results import Topology
from netcheck.runtime.base import RuntimeOptions
from netcheck.runtime.docker import DockerRuntime
from netcheck.runtime.docker.daemon import RUN_DIR
from tests.helpers import netcheck_namespaces
from tests.runtime.docker.conftest import addr, dns_query, net, nsenter, ping

pytestmark = [pytest.mark.docker, pytest.mark.privileged, pytest.mark.slow]

LAN = Lan(name="lan", subnet=net("172.16.86.0/24"), gateway=addr("172.16.86.1"))


def lab(*hosts: Host) -> Lab:
    return Lab(
        lans=(LAN,),
        router=Router(),
        machines=(Machine(name="nas", lan="lan", ip=addr("172.16.86.20")),),
        hosts=hosts,
    )


HOST1 = Host(name="host1", uplinks=(Uplink(ifname="eth0", lan="lan", ip=addr("172.16.86.250")),))


def plan(networks: tuple[Network, ...], endpoints: tuple[Endpoint, ...]) -> Plan:
    return Plan(
        name="t",
        source="t.yaml",
        description=None,
        lab=lab(HOST1),
        networks=networks,
        endpoints=endpoints,
        expectations=(),
    )


def ep(name: str, *attachments: Attachment) -> Endpoint:
    return Endpoint(name=name, host="host1", attachments=attachments)


class Built:
    def __init__(self, runtime: DockerRuntime, topology: Topology) -> None:
        self.runtime = runtime
        self.topology = topology

    def netns(self, node: str) -> str:
        return self.topology.nodes[node].netns


@pytest.fixture
def build(docker_client: Any) -> Iterator[Any]:
    """Build a plan in lab mode; tear down and prove nothing of it is left."""
    runtimes: list[DockerRuntime] = []

    def _build(p: Plan) -> Built:
        rt = DockerRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
        runtimes.append(rt)
        return Built(rt, rt.build(p, lambda _: None).topology)

    yield _build
    for rt in runtimes:
        pids = [d.lab.launched.pid for d in rt._daemons.values() if d.lab and d.lab.launched]
        rt.teardown()
        rt.teardown()  # idempotent
        assert not (RUN_DIR / rt.run_id).exists()
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"lab dockerd {pid} alive"
        assert ours(rt) == set()


def ours(rt: DockerRuntime) -> set[str]:
    """This run's namespaces (other runs may come and go concurrently)."""
    return {n for n in netcheck_namespaces() if n.startswith(f"nc-{rt.run_id}-")}


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2 :].split()[0] == "Z"


def test_macvlan_bridge_pub_net(build: Any) -> None:
    pub = Network(
        name="pub_net", driver=Driver.MACVLAN, parent="eth0", macvlan_mode=MacvlanMode.BRIDGE,
        subnets=(
            Subnet(
                subnet=net("172.16.86.0/24"), gateway=addr("172.16.86.1"),
                ip_range=net("172.16.86.128/25"),
                aux_addresses={"exclude_host": addr("172.16.86.250"),
                               "reserved": addr("172.16.86.129")},
            ),
        ),
    )  # fmt: skip
    b = build(
        plan(
            (pub,),
            (
                ep("c1", Attachment(network="pub_net", ip=addr("172.16.86.10"))),
                ep("c2", Attachment(network="pub_net")),
                ep("c3", Attachment(network="pub_net")),
            ),
        )
    )
    nodes = b.topology.nodes
    got = sorted(str(nodes[c].address_on("pub_net")) for c in ("c2", "c3"))
    # IPAM starts at the ip_range's first address and never hands out an aux address.
    assert got == ["172.16.86.128", "172.16.86.130"]
    iface = nodes["c2"].interfaces[0]
    assert iface.kind == "macvlan" and iface.parent == "host1:eth0" and iface.mode == "bridge"
    assert iface.mac and iface.ifname == "eth0"
    assert nodes["c2"].host == "host1"
    assert b.topology.facts["network.pub_net.gateway"] == "172.16.86.1"
    assert b.topology.facts["docker.mode"] == "lab"
    assert b.topology.docker is not None and b.topology.docker.mode == "lab"
    assert b.topology.lab_netns["host1"] == f"/run/netns/nc-{b.topology.run_id}-host1"
    c2 = b.netns("c2")
    assert ping(c2, "172.16.86.10")  # each other
    assert ping(c2, "172.16.86.1")  # the router
    assert ping(c2, "172.16.86.20")  # a machine on the LAN
    assert dns_query(c2, "c1") == ["172.16.86.10"]  # by name, through the embedded DNS
    # A macvlan child never reaches its own parent: the kernel filters it by design.
    assert not ping(c2, "172.16.86.250")
    # The container's namespace is not the host's: the lab host is a separate node.
    assert os.stat(c2).st_ino != os.stat(b.netns("host1")).st_ino
    client = b.runtime._daemons["host1"].client
    assert client.info()["Name"] == "host1"  # its own UTS namespace and hostname


def test_bridge_dns_internal_and_default_bridge(build: Any) -> None:
    nets = (
        Network(name="front", driver=Driver.BRIDGE, subnets=(Subnet(subnet=net("10.252.1.0/24")),)),
        Network(
            name="back", driver=Driver.BRIDGE, internal=True,
            subnets=(Subnet(subnet=net("10.252.2.0/24")),),
        ),
    )  # fmt: skip
    b = build(
        plan(
            nets,
            (
                ep("web", Attachment(network="front", aliases=("www",)),
                   Attachment(network="back")),
                ep("db", Attachment(network="back")),
                ep("old1", Attachment(network="bridge")),
                ep("old2", Attachment(network="bridge")),
            ),
        )
    )  # fmt: skip
    nodes = b.topology.nodes
    web, db = b.netns("web"), b.netns("db")
    assert dns_query(db, "web") == [str(nodes["web"].address_on("back"))]
    assert dns_query(web, "www") == [str(nodes["web"].address_on("front"))]
    assert ping(db, nodes["web"].address_on("back"))
    # "front" reaches the LAN through the host (NAT); "back" is internal: no way out.
    assert ping(web, "172.16.86.20")
    assert not ping(db, "172.16.86.20")
    # The default bridge (a lab-private --bip) has no embedded DNS.
    assert dns_query(b.netns("old1"), "old2") is None
    assert ping(b.netns("old1"), nodes["old2"].address_on("bridge"))


def test_single_node_overlay_mtu(build: Any) -> None:
    ovl = Network(name="ovl", driver=Driver.OVERLAY, subnets=(Subnet(subnet=net("10.251.0.0/24")),))
    b = build(
        plan((ovl,), (ep("c1", Attachment(network="ovl")), ep("c2", Attachment(network="ovl"))))
    )
    c2 = b.netns("c2")
    target = b.topology.nodes["c1"].address_on("ovl")
    assert dns_query(c2, "c1") == [str(target)]
    assert ping(c2, target)
    assert ping(c2, target, size=1422)  # 1422 + 28 = 1450, the overlay MTU
    assert not ping(c2, target, size=1423)
    assert "mtu=1450" in nsenter(c2, "ping", "-c1", "-W1", "-M", "do", "-s", "1423",
                                 str(target)).stderr  # fmt: skip


def test_second_macvlan_on_a_parent_is_a_clear_error(docker_client: Any) -> None:
    from netcheck.errors import RuntimeBuildError

    def mv(name: str, subnet: str) -> Network:
        return Network(name=name, driver=Driver.MACVLAN, parent="eth0",
                       subnets=(Subnet(subnet=net(subnet)),))  # fmt: skip

    p = plan(
        (mv("a", "172.16.86.0/25"), mv("b", "172.16.86.128/25")),
        (ep("c1", Attachment(network="a")), ep("c2", Attachment(network="b"))),
    )
    rt = DockerRuntime(RuntimeOptions(run_id=secrets.token_hex(3)))
    with pytest.raises(RuntimeBuildError, match="already using parent interface eth0"):
        rt.build(p, lambda _: None)
    # Nothing half-built stays: no namespace, no lab daemon directory.
    assert ours(rt) == set()
    assert not (RUN_DIR / rt.run_id).exists()
