"""The evidence readers: counters, tracefs lines, kernel log, lab-feature parsing."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator

import pytest

from netcheck.diagnose import counters
from netcheck.diagnose.kmsg import KernelLog
from netcheck.diagnose.rules.kernel_feature import explain_skip
from netcheck.diagnose.tracefs import DropRecorder, parse
from netcheck.model.plan import FirewallAction, ProbeKind
from netcheck.runtime.netns.nodefeatures import commands, sysctl_path
from netcheck.scenario.labfeatures import parse_firewall_rule, parse_route, parse_sysctls
from netcheck.scenario.values import ValueProblem
from tests.diagnose import dropping

NETSTAT = """TcpExt: SyncookiesSent IPReversePathFilter
TcpExt: 0 7
IpExt: InNoRoutes
IpExt: 2
"""


def test_counters_parse_and_delta() -> None:
    got = counters.parse(NETSTAT)
    assert got == {"TcpExt.SyncookiesSent": 0, "TcpExt.IPReversePathFilter": 7,
                   "IpExt.InNoRoutes": 2}
    after = {**got, "TcpExt.IPReversePathFilter": 9}
    assert counters.delta(got, after) == {"TcpExt.IPReversePathFilter": 2}


TRACE = [
    "# tracer: nop",
    "  <idle>-0 [001] ..s2.  100.000001: netif_receive_skb: dev=bond0.51 skbaddr=00000000abc "
    "len=84",
    "  <idle>-0 [001] ..s2.  100.000002: kfree_skb: skbaddr=00000000abc rx_sk=0000000000000000 "
    "protocol=2048 location=ip_rcv_finish_core+0x25b/0x470 reason: IP_RPFILTER",
    "  ping-12 [000] ..... 100.5: kfree_skb: skbaddr=00000000def rx_sk=0000000000000000 "
    "protocol=2054 location=arp_process+0x1/0x2 reason: NOT_SPECIFIED",
]


def test_trace_lines_tie_drops_to_the_receiving_device() -> None:
    drops = parse(TRACE)
    assert [d.reason for d in drops] == ["IP_RPFILTER", "NOT_SPECIFIED"]
    first = drops[0]
    assert first.dev == "bond0.51" and first.protocol == "IPv4" and first.length == 84
    assert first.function == "ip_rcv_finish_core"
    assert "IP_RPFILTER in ip_rcv_finish_core" in str(first)
    assert drops[1].dev is None and drops[1].protocol == "ARP"


def test_lab_feature_words() -> None:
    assert parse_sysctls({"net.ipv4.conf.all.rp_filter": 1, "net.ipv4.ip_forward": True}) == {
        "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.ip_forward": "1"}
    with pytest.raises(ValueProblem):
        parse_sysctls({"kernel.panic": 1})  # not a per-namespace network key
    assert sysctl_path("net.ipv4.conf.bond0/51.rp_filter") == "net/ipv4/conf/bond0.51/rp_filter"
    route = parse_route("10.51.0.16/28 via 172.20.56.1")
    assert str(route) == "10.51.0.16/28 via 172.20.56.1"
    assert str(parse_route({"dst": "default", "via": "10.0.0.1"}).dst) == "0.0.0.0/0"
    rule = parse_firewall_rule({"drop": "tcp/5432 from c1"})
    assert (rule.action, rule.proto, rule.port, rule.peer, rule.chain) == (
        FirewallAction.DROP, ProbeKind.TCP, 5432, "c1", "input")
    with pytest.raises(ValueProblem):
        parse_firewall_rule({"drop": "icmp/5 from c1"})
    argv = commands(rule, {"c1": [ipaddress.ip_address("10.0.0.5")]})
    assert argv == [["iptables", "-w", "5", "-A", "INPUT", "-p", "tcp", "--dport", "5432",
                     "-s", "10.0.0.5", "-j", "DROP"]]


def test_kernel_feature_from_a_skip_reason() -> None:
    (f,) = explain_skip("c1: kernel lacks ipvlan (CONFIG_IPVLAN)", None)
    assert f.id == "kernel-feature" and "CONFIG_IPVLAN" in f.summary
    assert explain_skip("overlay networks need the docker runtime (swarm)", None) == ()


def test_kernel_feature_names_esp_and_ipvs() -> None:
    from netcheck.runtime import features

    for feature, config in (("ipvs", "CONFIG_IP_VS"), ("esp", "CONFIG_INET_ESP")):
        found = features.judge(feature, 2, "", "No such file or directory")
        assert found.reason is not None
        (f,) = explain_skip(f"svc1: {found.reason}", None)
        assert f.id == "kernel-feature" and config in f.summary
        assert "links" not in f.summary  # neither is a link kind
        assert f.fix and config in f.fix


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    with dropping.namespaces("ev") as names:
        yield names


def _instances() -> set[str]:
    out: set[str] = set()
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        path = os.path.join(root, "instances")
        if os.path.isdir(path):
            out |= {f"{root}/{n}" for n in os.listdir(path)}
    return out


def _tracefs_mounts() -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        return [line for line in fh if " tracefs " in line]


@pytest.mark.privileged
def test_recorder_sees_a_netfilter_drop_and_leaves_nothing(pair: tuple[str, str]) -> None:
    a, b = pair
    dropping.wire(a, b, "10.9.0")
    mounts, instances = _tracefs_mounts(), _instances()
    rec = DropRecorder("abcdef")
    assert rec.start(), rec.problem
    dropping.send_dropped(a, b, "10.9.0.2")
    drops = rec.stop()
    assert any(d.reason == "NETFILTER_DROP" and d.dev == "vb" for d in drops), [
        str(d) for d in drops[:20]]
    assert _instances() == instances  # the run's instance is gone
    assert _tracefs_mounts() == mounts  # and so is any mount it made


@pytest.mark.privileged
def test_kernel_log_reads_only_new_lines() -> None:
    log = KernelLog()
    log.start()
    with open("/dev/kmsg", "w", encoding="utf-8") as fh:
        fh.write("nctest kernel log marker\n")
    lines = log.read_new()
    assert any("nctest kernel log marker" in line for line in lines)


def test_trace_parse_skips_receives_of_packets_not_dropped() -> None:
    # Receives of skbs that are never dropped change nothing (they are skipped unparsed);
    # a drop still takes the device of the latest receive of its own skb.
    noise = [f"  <idle>-0 [001] ..s2. 10.{i:06d}: netif_receive_skb: dev=eth9 "
             f"skbaddr=ffff{i:012x} len=28" for i in range(50)]
    mine = ("  <idle>-0 [000] ..s2. 11.000001: netif_receive_skb: dev=eth1 "
            "skbaddr=00000000deadbeef len=84")
    drop = ("  <idle>-0 [000] ..s2. 11.000002: kfree_skb: skbaddr=00000000deadbeef "
            "rx_sk=0000000000000000 protocol=2048 location=ip_rcv_finish_core+0x1e3/0x4a0 "
            "reason: IP_RPFILTER")
    got = parse([*noise, mine, *noise, drop])
    assert [(d.dev, d.length, d.reason) for d in got] == [("eth1", 84, "IP_RPFILTER")]
