"""docker-internal: both shapes (no default route; 20.10's isolation chains), and silence
where the way out is another network or nothing dropped it."""

from __future__ import annotations

import errno
import ipaddress

from netcheck.diagnose import Case, Explained, Strength
from netcheck.diagnose.rules.docker_internal import DockerInternal
from netcheck.model.plan import Driver, Lab, Network, NodeKind, Plan, ProbeKind, ProbeSpec, Subnet
from netcheck.model.results import Observation, Topology
from tests.diagnose.stubs import StubLive, link, node, pair

ICMP = ProbeSpec(kind=ProbeKind.ICMP)
NETS = (
    Network(name="back", driver=Driver.BRIDGE, internal=True,
            subnets=(Subnet(subnet=ipaddress.ip_network("10.252.4.0/24")),)),
    Network(name="front", driver=Driver.BRIDGE,
            subnets=(Subnet(subnet=ipaddress.ip_network("10.252.3.0/24")),)),
)
PLAN = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=NETS,
            endpoints=(), expectations=())
DB = node("db", ("eth0", "back", "10.252.4.2", "10.252.4.0/24"), kind=NodeKind.ENDPOINT,
          host="host1")
WEB = node("web", ("eth0", "front", "10.252.3.2", "10.252.3.0/24"),
           ("eth1", "back", "10.252.4.3", "10.252.4.0/24"), kind=NodeKind.ENDPOINT, host="host1")
HOST = node("host1", ("eth0", "lan", "172.16.91.250", "172.16.91.0/24"), kind=NodeKind.HOST)
NAS = node("nas", ("eth0", "lan", "172.16.91.20", "172.16.91.0/24"))
TOPO = Topology(run_id="abcdef", runtime="docker",
                nodes={n.name: n for n in (DB, WEB, HOST, NAS)})
ISOLATION = ("    7   588 DROP       all  --  br-1234 !br-1234  0.0.0.0/0   0.0.0.0/0")


def case(src: str, live: StubLive, dst: str = "nas", addr: str = "172.16.91.20") -> Case:
    exp, res = pair(src, dst, addr, ICMP, Observation.SILENT)
    return Case(expectation=exp, result=res, plan=PLAN, topology=TOPO, live=live)


def test_no_default_route_on_an_internal_network() -> None:
    live = StubLive()
    live.route(DB.netns, "172.16.91.20", "route get 172.16.91.20: error ENETUNREACH",
               errno=errno.ENETUNREACH)
    got = DockerInternal().explain(case("db", live))
    assert isinstance(got, Explained) and got.strength is Strength.LOOKUP
    assert "created with --internal" in got.finding.summary
    assert "db: route get 172.16.91.20: error ENETUNREACH" in got.finding.evidence


def test_engine_2010_isolation_chain_drops_it_on_the_host() -> None:
    live = StubLive()
    live.route(DB.netns, "172.16.91.20", "route get 172.16.91.20: via 10.252.4.1 dev eth0",
               oif=2, gateway="10.252.4.1")
    live.link_table[DB.netns] = [link("eth0", 2)]
    assert DockerInternal().explain(case("db", live)) is None  # nothing observed dropping it
    live.rules[(HOST.netns, "DOCKER-ISOLATION-STAGE-1")] = [ISOLATION]
    got = DockerInternal().explain(case("db", live))
    assert isinstance(got, Explained) and got.strength is Strength.KERNEL
    assert any("iptables DOCKER-ISOLATION-STAGE-1" in e for e in got.finding.evidence)


def test_silent_inside_the_network_and_when_another_network_leads_out() -> None:
    live = StubLive()
    live.rules[(HOST.netns, "DOCKER-ISOLATION-STAGE-1")] = [ISOLATION]
    # Inside its own subnet: not this rule's.
    assert DockerInternal().explain(case("db", live, "web", "10.252.4.3")) is None
    # web's route to the LAN leaves by front (not internal).
    live.route(WEB.netns, "172.16.91.20", "route get 172.16.91.20: via 10.252.3.1 dev eth0",
               oif=2, gateway="10.252.3.1")
    live.link_table[WEB.netns] = [link("eth0", 2), link("eth1", 3)]
    assert DockerInternal().explain(case("web", live)) is None
