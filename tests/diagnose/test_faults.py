"""Every catalogue row, reproduced in a real lab: build it, probe it, assert the finding.

Each scenario under scenarios/faults/ names the reason it expects (`reason:`); the run
must pass every expectation, and the finding must carry the evidence the row promises.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.results import Finding, Outcome, RunRecord, Verdict
from netcheck.runtime.features import probe as probe_features
from netcheck.runtime.naming import new_run_id
from netcheck.scenario import load_plan
from tests.diagnose.pathcheck import check_paths
from tests.helpers import ROOT

FAULTS = ROOT / "scenarios" / "faults"
pytestmark = pytest.mark.privileged


def run(name: str) -> RunRecord:
    plan = load_plan(str(FAULTS / f"{name}.yaml"), {})
    return run_plan(plan, RunOptions(runtime="netns", run_id=new_run_id()))


def verdict(record: RunRecord, exp_id: str) -> Verdict:
    return next(v for v in record.verdicts if v.expectation_id == exp_id)


def finding(v: Verdict, rule: str) -> Finding:
    found = [f for f in v.findings if f.id == rule]
    assert found, f"{v.expectation_id}: no {rule} finding in {[f.id for f in v.findings]}"
    return found[0]


def evidence(f: Finding) -> str:
    return "\n".join(f.evidence)


def all_pass(record: RunRecord) -> None:
    bad = [(v.expectation_id, v.outcome.value, v.message) for v in record.verdicts
           if v.outcome is not Outcome.PASS]
    assert not bad, bad


def check_seed004(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "icmp:app1->zk1@mgmt"), "rp-filter")
    text = evidence(f)
    assert "zk1" in f.summary and "bond0.51" in f.summary
    assert "iif bond0.51: error" in text  # the kernel refuses the lookup with iif
    assert "leaves by bond0.136" in text
    assert "effective 1 = max(conf/all 1, conf/bond0.51 0)" in text
    # The kernel's own word, from the counters or the drop-reason tracepoint (the martian
    # log line is rate-limited machine-wide, so it is not required).
    assert "IPReversePathFilter +" in text or "IP_RPFILTER" in text
    assert f.fix is not None and "net.ipv4.conf.bond0/51.rp_filter=2" in f.fix
    # The fix, measured: zk2 differs only by rp_filter=2 on bond0.51, and answers.
    assert verdict(record, "tcp/2181:app1->zk2@mgmt").outcome is Outcome.PASS


def check_rp_arp(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "icmp:m->zk@mgmt"), "rp-filter-arp")
    text = evidence(f)
    assert "INCOMPLETE" in text
    assert "IPReversePathFilter +0" in text
    assert not any(x.id == "rp-filter" for x in verdict(record, "icmp:m->zk@mgmt").findings)


def check_l2(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "arp:c1->nas"), "no-l2-adjacency"))
    assert "segment v20" in text and "segment v10" in text
    assert "ARP from router on v10" in text  # up elsewhere, measured


def check_no_route(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "icmp:m1->legacy"), "no-route"))
    assert "ENETUNREACH" in text


def check_router_no_route(record: RunRecord) -> None:
    """Routers in series: the second one drops the replies it has no route for."""
    all_pass(record)
    for exp_id in ("icmp:mc->mb", "tcp/80:mc->mb"):
        f = finding(verdict(record, exp_id), "no-route")
        assert f.summary.startswith("r2 forwards mb's replies to 10.62.3.10"), f.summary
        text = evidence(f)
        assert "r2: route get 10.62.3.10 from 10.62.2.10 iif b: error ENETUNREACH" in text
        assert "r2: IpExt.InNoRoutes +" in text
    assert not verdict(record, "icmp:ma->mb").findings


def check_no_default_route(record: RunRecord) -> None:
    all_pass(record)
    for exp_id in ("icmp:db->m1", "icmp:db->h1", "tcp/80:db->m1"):
        f = finding(verdict(record, exp_id), "no-default-route")
        text = evidence(f)
        node = exp_id.split("->")[1]
        assert f.summary.startswith(f"{node} has no default route"), f.summary
        assert f"{node}: route get 10.63.2.20 from 10.63.1." in text
        assert "error ENETUNREACH" in text
        table = text.split("main table (ip route, read live): ")[1].split("\n")[0]
        assert table.startswith("10.63.1.0/24 dev eth0") and "default" not in table
        assert "ip route add default via 10.63.1.1" in f.fix
    assert not verdict(record, "icmp:db->m3").findings


def test_a_node_without_a_default_route_probing_off_subnet_is_explained(
    tmp_path: Path, no_leftovers: None,
) -> None:
    """Probing from m1 itself: the kernel refuses the route lookup, nothing is sent (a
    "could not test" error, never a pass), and the error still names the missing default
    with the table read live."""
    text = (FAULTS / "no-default-route.yaml").read_text()
    path = tmp_path / "from-m1.yaml"
    path.write_text(text.split("expectations:")[0]
                    + "expectations:\n  - {from: m1, to: db, probe: icmp}\n")
    record = run_plan(load_plan(str(path), {}),
                      RunOptions(runtime="netns", run_id=new_run_id()))
    (v,) = record.verdicts
    assert v.outcome is Outcome.ERROR and v.message.startswith("could not test")
    f = finding(v, "no-default-route")
    assert f.summary.startswith("m1 has no default route: 10.63.2.20 is off its subnets")
    assert "m1: main table (ip route, read live): 10.63.1.0/24 dev eth0" in evidence(f)
    assert [x.id for x in v.findings] == ["no-default-route"]


def check_unrouted_service_address(record: RunRecord) -> None:
    all_pass(record)
    for exp_id in ("icmp:client->192.0.2.53", "tcp/53:client->192.0.2.53"):
        f = finding(verdict(record, exp_id), "unrouted-service-address")
        assert f.summary == ("192.0.2.53 is dns1's service address on lo, and router has no "
                             "route to it"), f.summary
        text = evidence(f)
        assert "dns1 lo holds 192.0.2.53" in text
        assert "router: route get 192.0.2.53 from 10.64.2.10 iif b: error ENETUNREACH" in text
        assert "ip route add 192.0.2.53/32 via 10.64.1.53" in f.fix
    assert not verdict(record, "icmp:client->192.0.2.54").findings


def check_no_forwarding(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "icmp:m1->m2"), "no-forwarding"))
    assert "ip_forward = 0" in text


def check_mtu(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "icmp/df/1472:a->b"), "mtu-blackhole"))
    assert "1372 bytes (a 1400-byte IP packet)" in text
    assert "a eth0 MTU 1500" in text and "MTU 1400" in text


def check_duplicate(record: RunRecord) -> None:
    all_pass(record)
    v = verdict(record, "arp:nas->c1")
    assert v.result is not None and len(v.result.answered_by) == 2
    text = evidence(finding(v, "duplicate-ip"))
    assert "c1 eth0 on host1" in text and "c2 eth0 on host2" in text


def check_filtered(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "tcp/5432:app1->db"), "filtered")
    text = evidence(f)
    assert "DROP" in text and "dpt:5432" in text
    closed = verdict(record, "tcp/6543:app2->db")
    finding(closed, "port-closed")
    assert not any(x.id == "filtered" for x in closed.findings)


def check_parent_down(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "icmp:c1->c2"), "parent-down"))
    assert "admin down" in text
    text = evidence(finding(verdict(record, "icmp:d1->nas"), "parent-down"))
    assert "carrier 0" in text
    # Measured: without carrier the siblings are cut off too; the evidence reads d2's own
    # link instead of claiming it can be reached.
    text = evidence(finding(verdict(record, "icmp:d1->d2"), "parent-down"))
    assert "d2 eth0 operstate DOWN, carrier 0" in text
    assert "can still be reached" not in text


def check_rp_loose(record: RunRecord) -> None:
    all_pass(record)
    for exp_id in ("icmp:m1->loose", "tcp/80:m1->loose"):
        v = verdict(record, exp_id)
        f = finding(v, "rp-filter")
        text = evidence(f)
        assert "rp_filter=2 (loose)" in f.summary and "no route to 10.0.1.10" in f.summary
        assert "route get 10.0.1.10 from 10.0.2.20: error ENETUNREACH" in text
        assert "loose: TcpExt.IPReversePathFilter +" in text  # the kernel's word, per netns
        assert not any(x.id == "no-route" for x in v.findings)  # the old wrong explanation
    # rp_filter off: the request gets in (the target's own counters say so) and the reply
    # has no route: that one is no-route, and rp-filter stays silent.
    v = verdict(record, "icmp:m1->open")
    assert "Icmp.InEchos +" in evidence(finding(v, "no-route"))
    assert not any(x.id == "rp-filter" for x in v.findings)
    # A loose router on the way, not the target.
    f = finding(verdict(record, "icmp:m1->far"), "rp-filter")
    assert f.summary.startswith("gw2 drops the forwarded request from 10.0.1.10 arriving on eth0")
    assert "gw2: TcpExt.IPReversePathFilter +" in evidence(f)


def check_rp_transit(record: RunRecord) -> None:
    all_pass(record)
    for target, node in (("t", "gw2"), ("c1", "h")):
        for probe in ("icmp", "tcp/80"):
            f = finding(verdict(record, f"{probe}:m->{target}"), "rp-filter")
            text = evidence(f)
            assert f.summary.startswith(f"{node} drops the forwarded request from 10.0.1.10 "
                                        "arriving on eth0: strict rp_filter"), f.summary
            assert f"{node}: TcpExt.IPReversePathFilter +" in text
            assert "leaves by eth1, not eth0" in text
    # The reply, not the request, dies on the forwarding container host.
    f = finding(verdict(record, "icmp:c1->t"), "rp-filter")
    assert f.summary.startswith("h drops the forwarded reply from 10.0.5.20 arriving on eth0")


def check_isolation(record: RunRecord) -> None:
    all_pass(record)
    finding(verdict(record, "icmp:c1->host1"), "macvlan-host-isolation")
    finding(verdict(record, "icmp:host1->c1"), "macvlan-host-isolation")  # the reverse


def check_shim(record: RunRecord) -> None:
    all_pass(record)  # the shim fixes host2, and only host2
    f = finding(verdict(record, "icmp:c1->host1"), "macvlan-host-isolation")
    assert "ip route add 172.16.86.128/26 dev mv-shim" in f.fix  # host1's own ip_range
    assert not verdict(record, "icmp:c2->host2").findings


def test_shim_with_the_wrong_route_is_named(no_leftovers: None) -> None:
    plan = load_plan(str(FAULTS / "macvlan-shim.yaml"), {"SHIM_ROUTE": "172.16.86.128/26"})
    record = run_plan(plan, RunOptions(runtime="netns", run_id=new_run_id()))
    v = verdict(record, "icmp:c2->host2")
    assert v.outcome is Outcome.FAIL
    assert v.result is not None and v.result.observation.value == "silent"
    f = finding(v, "macvlan-host-isolation")
    assert "host2 has shim(s) mv-shim on eth0, routing 172.16.86.128/26" in evidence(f)
    assert "none covers c2's 172.16.86.192" in evidence(f)
    assert f.fix.endswith("ip route add 172.16.86.192/26 dev mv-shim")


def check_macvlan_private(record: RunRecord) -> None:
    all_pass(record)
    for exp_id in ("arp:p1->p2", "icmp:p1->p2", "tcp/80:p1->p2", "icmp:q1->q2"):
        v = verdict(record, exp_id)
        assert v.findings[0].id == "macvlan-private", [f.id for f in v.findings]
        text = evidence(v.findings[0])
        assert "mode private, parent host1" in text and "INCOMPLETE" in text


def check_macvlan_vepa(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "icmp:v1->v2"), "macvlan-vepa"))
    assert "mode vepa, parent host1 eth0" in text
    assert "hairpin off (bridge port flag)" in text  # read from the lab switch
    text = evidence(finding(verdict(record, "arp:w1->w2"), "macvlan-vepa"))
    assert "trunk0.30" in text
    # The shim's route covers v1 already: the finding says why it cannot help, and does
    # not propose adding it again.
    for exp_id in ("icmp:v1->host1", "icmp:host1->v1"):
        f = finding(verdict(record, exp_id), "macvlan-host-isolation")
        assert "covering v1's" in evidence(f) and "vepa mode" in evidence(f)
        assert f.fix is not None and "ip route add" not in f.fix


def check_vepa_hairpin_port(record: RunRecord) -> None:
    # Hairpin is read per switch port: host1's port reflects (a1 and a2 meet, no finding),
    # host2's on the same LAN does not (b1 -> b2 named macvlan-vepa from that port's flag).
    all_pass(record)
    assert verdict(record, "icmp:a1->a2").outcome is Outcome.PASS
    text = evidence(finding(verdict(record, "icmp:b1->b2"), "macvlan-vepa"))
    assert "parent host2 eth0" in text
    assert "hairpin off (bridge port flag)" in text
    assert "host1" not in text


def check_no_gateway(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "icmp:m1->t"), "no-gateway")
    assert "no node of this run holds 10.0.1.99" in evidence(f)
    f = finding(verdict(record, "tcp/80:m2->t"), "no-gateway")
    assert "gwdown eth0 holds 10.0.1.2: admin down" in evidence(f)
    f = finding(verdict(record, "icmp:c1->t"), "no-gateway")
    assert "via 10.0.1.1" in f.summary and "nobody holds 10.0.1.1" in f.summary


def check_arp_ignore(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "icmp:m->zk1@apps"), "arp-ignore")
    assert "effective 1 = max(conf/all 1, conf/eth0 0)" in evidence(f)
    f = finding(verdict(record, "arp:m->zk2@apps"), "arp-ignore")
    assert "effective 2 = max(conf/all 0, conf/eth0 2)" in evidence(f)
    f = finding(verdict(record, "icmp:m->zk3@mgmt"), "arp-filter")
    assert "via 172.20.56.1 dev eth1" in evidence(f)


def check_kernel_feature(record: RunRecord) -> None:
    features = probe_features(record.run_id)
    v = verdict(record, "icmp:c1->c2")
    if features.has("ipvlan"):
        assert v.outcome is Outcome.PASS
        return
    assert v.outcome is Outcome.SKIP
    f = finding(v, "kernel-feature")
    assert "CONFIG_IPVLAN" in f.summary


def check_policy_routing(record: RunRecord) -> None:
    all_pass(record)
    for good in ("icmp:m->h1@svc", "icmp:m->h3@svc"):
        assert not verdict(record, good).findings
    no_route = finding(verdict(record, "icmp:m->h2@svc"), "rp-filter")
    assert "no route to 10.53.0.10" in no_route.summary
    assert "route get 10.53.0.10 from 10.51.0.12: error ENETUNREACH" in evidence(no_route)
    other = finding(verdict(record, "icmp:m->h4@svc"), "rp-filter")
    assert "leaves by eth1" in other.summary
    # The main table sends 10.53.0.10 out of eth0: only the lookup with the rule applied
    # (from the service address, table 100) finds the way back by eth1.
    ruled = finding(verdict(record, "icmp:m->h5@svc"), "rp-filter")
    assert "h5: route get 10.53.0.10 from 10.51.0.15: 10.53.0.10 via 10.52.0.1 dev eth1" \
        in evidence(ruled)


def check_addresses(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "tcp/53:c2->svc"), "filtered")
    assert "10.62.0.22" in evidence(f) or "c2" in f.summary
    # odd2's address off LAN b's subnet: the router has no route back (odd's is routed).
    f = finding(verdict(record, "icmp:odd2->svc"), "off-subnet-no-route-back")
    assert f.summary == ("odd2's 192.168.9.6 is off lan b's 10.62.0.0/24, and router has no "
                         "route back to it"), f.summary
    text = evidence(f)
    assert "odd2 eth0 holds 192.168.9.6/32 on lan b (10.62.0.0/24)" in text
    assert "router: route get 192.168.9.6 from 10.61.0.10 iif a: error ENETUNREACH" in text
    assert "router: IpExt.InNoRoutes +" in text
    assert "ip route add 192.168.9.6/32 dev b" in f.fix
    assert not verdict(record, "icmp:odd->svc").findings


def check_static_neighbour(record: RunRecord) -> None:
    all_pass(record)
    for exp_id in ("icmp:m1->db", "tcp/5432:m1->db"):
        f = finding(verdict(record, exp_id), "static-neighbour")
        text = evidence(f)
        assert "lladdr 02:00:5e:10:00:99 PERMANENT" in text
        assert "no interface of the lab has 02:00:5e:10:00:99" in text
    assert not verdict(record, "icmp:m3->db").findings


def check_duplicate_address(record: RunRecord) -> None:
    all_pass(record)
    f = finding(verdict(record, "arp:m->shared"), "duplicate-ip")
    text = evidence(f)
    assert "nas eth0" in text and "printer eth0" in text


def check_container_mtu(record: RunRecord) -> None:
    all_pass(record)
    # The container's own MTU (1500) against the switch's (1400), both named.
    text = evidence(finding(verdict(record, "icmp/df/1472:c1->m"), "mtu-blackhole"))
    assert "c1 eth0 MTU 1500" in text and "switch" in text and "MTU 1400" in text
    fixed = verdict(record, "icmp/df/1472:c2->m")
    assert fixed.result is not None and fixed.result.observation.value == "too-big"


def check_container_mac(record: RunRecord) -> None:
    all_pass(record)
    text = evidence(finding(verdict(record, "icmp:m->c2"), "static-neighbour"))
    assert "lladdr 02:64:00:00:00:32 PERMANENT" in text
    assert not verdict(record, "icmp:m->c1").findings  # pinned by mac_address: right


def check_container_dns(record: RunRecord) -> None:
    all_pass(record)
    closed = finding(verdict(record, "dns/web.lab.example:closed"), "port-closed")
    assert "172.30.41.80" in closed.summary  # the server closed's own resolv.conf names
    dead = verdict(record, "dns/web.lab.example:dead").result
    assert dead is not None and "172.30.41.99" in dead.detail


def check_start_order(record: RunRecord) -> None:
    all_pass(record)
    assert finding(verdict(record, "tcp/5432:client->172.30.43.8"), "port-closed")


CASES: dict[str, Callable[[RunRecord], None]] = {
    "container-mtu": check_container_mtu,
    "container-mac": check_container_mac,
    "container-dns": check_container_dns,
    "start-order": check_start_order,
    "policy-routing": check_policy_routing,
    "addresses": check_addresses,
    "static-neighbour": check_static_neighbour,
    "duplicate-address": check_duplicate_address,
    "rp-filter-seed004": check_seed004,
    "rp-filter-arp": check_rp_arp,
    "no-l2-adjacency": check_l2,
    "no-route": check_no_route,
    "router-no-route": check_router_no_route,
    "no-default-route": check_no_default_route,
    "unrouted-service-address": check_unrouted_service_address,
    "no-forwarding": check_no_forwarding,
    "mtu-blackhole": check_mtu,
    "duplicate-ip": check_duplicate,
    "filtered": check_filtered,
    "parent-down": check_parent_down,
    "rp-filter-loose": check_rp_loose,
    "rp-filter-transit": check_rp_transit,
    "macvlan-private": check_macvlan_private,
    "macvlan-vepa": check_macvlan_vepa,
    "vepa-hairpin-port": check_vepa_hairpin_port,
    "no-gateway": check_no_gateway,
    "arp-ignore": check_arp_ignore,
    "macvlan-host-isolation": check_isolation,
    "macvlan-shim": check_shim,
    "kernel-feature": check_kernel_feature,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fault(name: str, no_leftovers: None) -> None:
    record = run(name)
    CASES[name](record)
    check_paths(record)  # every silent probe says where its packet died


def test_every_fault_scenario_is_tested() -> None:
    shipped = {p.stem for p in Path(FAULTS).glob("*.yaml")}
    # dns-default-bridge and docker-internal need the docker runtime: their own tests
    # (test_dns_default_bridge.py, test_docker_internal.py)
    assert shipped - set(CASES) == {"dns-default-bridge", "docker-internal"}
