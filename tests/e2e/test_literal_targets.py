"""Literal targets and pinned sources on the netns runtime, with real packets.

The lab (scenarios/existing/literal-targets.yaml): a multi-homed host `ops` (office with
the default route, and mgmt), a database machine on a third LAN behind the router that
drops tcp/5432 from the office. A probe pinned to ops's mgmt address is answered, the same
probe with the office address is not: the answer proves the packet carried the pinned
address. With strict rp_filter on the router, the pinned probe (mgmt source, routed out of
the office leg as the kernel routes a socket bound to it) is dropped instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from tests.helpers import ROOT, netcheck, netcheck_namespaces

pytestmark = [pytest.mark.privileged]

SCENARIO = ROOT / "scenarios" / "existing" / "literal-targets.yaml"


def _verdicts(path: Path) -> dict[str, dict[str, object]]:
    record = json.loads(path.read_text(encoding="utf-8"))
    return {v["expectation_id"]: v for v in record["verdicts"]}


def test_shipped_scenario_passes_and_reports_show_the_targets(
    tmp_path: Path, no_leftovers: None
) -> None:
    out = tmp_path / "lt"
    proc = netcheck("run", str(SCENARIO), "--json", f"{out}.json", "--junit", f"{out}.xml",
                    "--html", f"{out}.html")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = _verdicts(Path(f"{out}.json"))
    assert {k: v["outcome"] for k, v in verdicts.items()} == {
        "icmp:ops->10.20.0.5": "pass",
        "icmp:ops->pg": "pass",
        "tcp/5432:ops@mgmt->pg": "pass",
        "tcp/5432:ops->pg": "pass",
        "tcp/5432:ops@10.20.9.10->10.20.0.5": "pass",
        "icmp:ops->spare": "pass",
        "icmp:web->pg": "pass",
    }

    def result(vid: str) -> dict[str, object]:
        found = verdicts[vid]["result"]
        assert isinstance(found, dict)
        return found

    # The database answered the pinned probe and dropped the office one: it saw 10.20.9.10.
    pinned = result("tcp/5432:ops@mgmt->pg")
    assert (pinned["source_address"], pinned["target_address"]) == ("10.20.9.10", "10.20.0.5")
    assert pinned["observation"] == "answered"
    office = result("tcp/5432:ops->pg")
    assert (office["source_address"], office["observation"]) == ("10.20.1.10", "silent")
    assert [f["id"] for f in verdicts["tcp/5432:ops->pg"]["findings"]] == ["filtered"]
    assert result("tcp/5432:ops@10.20.9.10->10.20.0.5")["source_address"] == "10.20.9.10"
    # The free address really got the probe and stayed silent.
    assert result("icmp:ops->spare")["observation"] == "silent"
    assert result("icmp:ops->spare")["target"] == "spare"

    cases = {c.name for suite in JUnitXml.fromfile(f"{out}.xml") for c in suite}
    assert {"tcp/5432:ops@mgmt->pg", "icmp:ops->spare"} <= cases
    html = Path(f"{out}.html").read_text(encoding="utf-8")
    # The outside address has a box of its own in the topology; pg is the db machine's.
    assert re.search(r'data-name="spare" data-kind="outside"', html)
    assert 'data-name="pg"' not in html
    assert "ops@mgmt" in html  # the pinned probe is a matrix row of its own
    assert "icmp:ops-&gt;spare" in html or "icmp:ops->spare" in html


RP_FILTER = """\
name: rp
lab:
  lans:
    office: {subnet: 10.64.1.0/24, gateway: 10.64.1.1}
    dc: {subnet: 10.64.0.0/24, gateway: 10.64.0.1}
    mgmt: {subnet: 10.64.9.0/24, gateway: 10.64.9.1}
  router:
    sysctls: {net.ipv4.conf.all.rp_filter: 1}
  machines:
    db: {lan: dc, ip: 10.64.0.5}
  hosts:
    ops:
      # The pinned probe may be the packet that makes ops ARP for its gateway; by default
      # (arp_announce 0) the request then carries the mgmt address and the router's strict
      # rp_filter drops the ARP too, which silences every probe (rp-filter-arp). 2 makes
      # ARP use the office address, as multi-homed hosts are usually set up.
      sysctls: {net.ipv4.conf.all.arp_announce: 2}
      uplinks:
        - {ifname: eth0, lan: office, ip: 10.64.1.10}
        - {ifname: eth1, lan: mgmt, ip: 10.64.9.10}
targets:
  pg: {address: 10.64.0.5}
expectations:
  - {from: ops, to: pg, probe: icmp}
  - {from: ops@mgmt, to: pg, probe: icmp, reachable: false, reason: rp-filter}
  - {from: ops@office, to: pg, probe: icmp}
"""


def test_strict_rp_filter_drops_the_pinned_source(tmp_path: Path, no_leftovers: None) -> None:
    path = tmp_path / "rp.yaml"
    path.write_text(RP_FILTER, encoding="utf-8")
    out = tmp_path / "rp.json"
    proc = netcheck("run", str(path), "--json", str(out), "--no-reports")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = _verdicts(out)
    assert {k: v["outcome"] for k, v in verdicts.items()} == {
        "icmp:ops->pg": "pass", "icmp:ops@mgmt->pg": "pass", "icmp:ops@office->pg": "pass",
    }
    dropped = verdicts["icmp:ops@mgmt->pg"]
    assert dropped["result"]["source_address"] == "10.64.9.10"  # type: ignore[index]
    assert dropped["result"]["observation"] == "silent"  # type: ignore[index]
    assert "rp-filter" in [f["id"] for f in dropped["findings"]]  # type: ignore[union-attr]


IPAM_SOURCE = """\
name: ipam-source
networks:
  front: {subnets: [{subnet: 10.63.0.0/24}]}
endpoints:
  a: {networks: [front]}
  b: {networks: {front: {ip: 10.63.0.20}}}
expectations:
  - {from: a, source: 10.63.0.2, to: b, probe: icmp}
  - {from: a, source: 10.63.0.77, to: b, probe: icmp}
"""


def test_source_from_ipam_is_checked_at_run_time(tmp_path: Path, no_leftovers: None) -> None:
    path = tmp_path / "ipam.yaml"
    path.write_text(IPAM_SOURCE, encoding="utf-8")
    out = tmp_path / "ipam.json"
    proc = netcheck("run", str(path), "--runtime", "netns", "--json", str(out), "--no-reports")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = _verdicts(out)
    # IPAM hands a the first free address, 10.63.0.2: that pin holds and is answered.
    assert verdicts["icmp:a@10.63.0.2->b"]["outcome"] == "pass"
    wrong = verdicts["icmp:a@10.63.0.77->b"]
    assert wrong["outcome"] == "error"
    assert wrong["message"] == (
        "could not test: a does not hold the source address 10.63.0.77 (its addresses: "
        "10.63.0.2)"
    )


def test_dry_run_creates_nothing(tmp_path: Path) -> None:
    before = netcheck_namespaces()
    proc = netcheck("run", str(SCENARIO), "--dry-run", "--json", str(tmp_path / "x.json"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    run_id = re.search(r"run id ([0-9a-f]{6})", lines[0])
    assert run_id is not None, lines[0]
    rid = run_id[1]
    assert not [n for n in netcheck_namespaces() - before if n.startswith(f"nc-{rid}-")]
    assert not Path(f"/run/netcheck/{rid}.json").exists()
    assert not list(tmp_path.iterdir())  # no report either
    assert f"create netns /run/netns/nc-{rid}-ops (host)" in lines
    assert "create veth web:eth0 to ops (network apps, 10.30.0.10)" in lines
    assert (f"probe tcp/5432:ops@mgmt->pg: tcp/5432 from ops (netns /run/netns/nc-{rid}-ops, "
            "source 10.20.9.10) to pg (10.20.0.5), expect reachable") in lines
    assert (f"probe icmp:ops->10.20.0.5: icmp from ops (netns /run/netns/nc-{rid}-ops, "
            "source chosen by the kernel's route) to 10.20.0.5, expect reachable") in lines
    probes = [line for line in lines if line.startswith("probe ")]
    assert len(probes) == 7


def test_docker_dry_run_creates_no_docker_object(docker_client: Any) -> None:
    def objects() -> set[str]:
        found = {f"container {c.id} {c.name}" for c in docker_client.containers.list(all=True)}
        found |= {f"network {n.id} {n.name}" for n in docker_client.networks.list()}
        found |= {f"volume {v.name}" for v in docker_client.volumes.list()}
        return found

    before, netns_before = objects(), netcheck_namespaces()
    proc = netcheck("run", str(ROOT / "scenarios" / "quickstart.yaml"), "--dry-run",
                    "--runtime", "docker")
    assert proc.returncode == 0, proc.stderr
    rid = re.search(r"run id ([0-9a-f]{6})", proc.stdout.splitlines()[0])
    assert rid is not None
    run_id = rid[1]
    created = objects() - before
    assert not [o for o in created if f"nc-{run_id}-" in o], created
    label = {"label": f"io.netcheck.run={run_id}"}
    assert not docker_client.containers.list(all=True, filters=label)
    assert not docker_client.networks.list(filters=label)
    assert not [n for n in netcheck_namespaces() - netns_before if n.startswith(f"nc-{run_id}-")]
    assert not Path(f"/run/netcheck/{run_id}.json").exists()
    assert f"create docker network nc-{run_id}-pub_net (macvlan) on lab host host1" in \
        proc.stdout.splitlines()


IPV6 = """\
name: v6-pinned
lab:
  lans:
    a: {subnet: "fd00:64:1::/64", gateway: "fd00:64:1::1"}
    b: {subnet: "fd00:64:9::/64", gateway: "fd00:64:9::1"}
  router: {}
  machines:
    db: {lan: b, ip: "fd00:64:9::5"}
  hosts:
    ops:
      uplinks:
        - {ifname: eth0, lan: a, ip: "fd00:64:1::10"}
        - {ifname: eth1, lan: b, ip: "fd00:64:9::10"}
expectations:
  - {from: ops, to: "fd00:64:9::5", probe: icmp}
  - {from: ops@a, to: "fd00:64:9::05", probe: icmp}
  - {from: ops, source: "fd00:64:1::10", to: db, probe: icmp}
"""


def test_ipv6_literal_target_and_pinned_source(tmp_path: Path, no_leftovers: None) -> None:
    # db is on-link on b; pinned to a, the echo leaves by eth1 with ops's a address and
    # db's reply comes back through the router to a: answered only if db saw that address.
    path = tmp_path / "v6.yaml"
    path.write_text(IPV6, encoding="utf-8")
    out = tmp_path / "v6.json"
    proc = netcheck("run", str(path), "--json", str(out), "--no-reports", "--timeout", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = _verdicts(out)
    got = {k: (v["outcome"], v["result"]["source_address"])  # type: ignore[index]
           for k, v in verdicts.items()}
    assert got == {
        "icmp:ops->fd00:64:9::5": ("pass", "fd00:64:9::10"),
        "icmp:ops@a->fd00:64:9::5": ("pass", "fd00:64:1::10"),
        "icmp:ops@fd00:64:1::10->db": ("pass", "fd00:64:1::10"),
    }
