"""The HTML report's content and escaping, checked on the parsed document (no browser)."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from netcheck.baseline.diff import HostChange, PathChange, RunDiff
from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Expectation,
    Host,
    Lab,
    Lan,
    Machine,
    MacvlanMode,
    Network,
    Plan,
    ProbeKind,
    ProbeSpec,
    Router,
    Subnet,
    Target,
    Uplink,
)
from netcheck.model.results import (
    DockerEnvironment,
    Environment,
    Observation,
    Outcome,
    Packet,
    ProbeResult,
    RunRecord,
    Verdict,
)
from netcheck.reports.html import HtmlReporter, build_matrix, render
from netcheck.reports.jsonreport import JsonReporter, load_record
from netcheck.reports.topology_svg import layout

EVIL = "<script>document.title='pwned'</script>"


class _Doc(HTMLParser):
    """Collects tags, attributes and text, to assert on structure rather than raw bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts = 0
        self._in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts += 1
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.title += data

    def by_id(self, ident: str) -> dict[str, str | None] | None:
        return next((a for _, a in self.tags if a.get("id") == ident), None)


def parse(html: str) -> _Doc:
    doc = _Doc()
    doc.feed(html)
    return doc


def plan() -> Plan:
    ip = ipaddress.ip_address
    return Plan(
        name="vlans",
        source="scenarios/vlans.yaml",
        description=f"two VLANs {EVIL}",
        lab=Lab(
            lans=(
                Lan(
                    name="v100",
                    subnet=ipaddress.ip_network("10.100.0.0/24"),
                    gateway=ip("10.100.0.1"),
                    vlan=100,
                ),
            ),
            router=Router(),
            machines=(Machine(name="nas", lan="v100", ip=ip("10.100.0.20")),),
            hosts=(Host(name="host1", uplinks=(Uplink(ifname="trunk0.100", lan="v100"),)),),
        ),
        networks=(
            Network(
                name="pub",
                driver=Driver.MACVLAN,
                parent="trunk0.100",
                macvlan_mode=MacvlanMode.BRIDGE,
                subnets=(Subnet(subnet=ipaddress.ip_network("10.100.0.0/24")),),
            ),
        ),
        endpoints=(Endpoint(name=EVIL, host="host1", attachments=(Attachment(network="pub"),)),),
        expectations=(),
    )


def test_report_has_summary_matrix_topology_details(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    HtmlReporter().write(record, path)
    html = path.read_text()
    doc = parse(html)
    assert doc.by_id("matrix") is not None
    assert doc.by_id("topology") is not None
    for i in range(len(record.verdicts)):
        assert doc.by_id(f"v-{i}") is not None
    text = " ".join(doc.text)
    assert "6.1.0-test" in text  # kernel
    assert "netns" in text
    assert "rp_filter=2" in text  # the finding's fix
    assert "kfree_skb reason IP_RPFILTER x3" in text  # its evidence
    assert "0.212 ms" in text  # RTT
    assert "ARP is at 02:42:ac:10:56:81 says 172.16.86.129" in text  # packet received
    assert doc.by_id("count-fail") is not None


def test_summary_reads_kernel_and_docker_from_the_typed_environment(
    record_factory: Callable[..., RunRecord],
) -> None:
    env = Environment(kernel="6.9.1-lab", hostname="h", netcheck_version="0.1.0", python="3.11")
    docker = DockerEnvironment(server_version="27.5.1", api_version="1.47", mode="lab")

    def summary(record: RunRecord) -> str:
        text = render(record)
        return text[text.index("<dt>Kernel</dt>") : text.index("<dt>Started</dt>")]

    # Facts are display text only: a docker-looking key there is no Docker version.
    plain = summary(record_factory(environment=env, facts={"docker.note": "x"}))
    assert "<dd>6.9.1-lab</dd>" in plain and "<dd>not used</dd>" in plain
    with_docker = summary(record_factory(environment=dataclasses.replace(env, docker=docker)))
    assert "<dd>27.5.1</dd>" in with_docker
    assert "<dd>unknown</dd>" in summary(record_factory(environment=None))


def test_self_contained_no_external_urls(record: RunRecord) -> None:
    html = render(record)
    doc = parse(html)
    for tag, attrs in doc.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert doc.scripts == 1  # only the report's own


def test_scenario_text_is_escaped_everywhere(record_factory: Callable[..., RunRecord]) -> None:
    rec = record_factory(scenario=EVIL, source=f"x{EVIL}.yaml")
    html = render(rec, plan())
    doc = parse(html)
    assert doc.scripts == 1
    assert EVIL not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert doc.title.startswith(f"netcheck: {EVIL}")  # shown as text
    # The verdict id from the fixture carries <script> too; it appears only as text.
    assert "icmp:<script>&[red]x[/red]->c2" in " ".join(doc.text)


def test_csp_allows_only_the_reports_script(record: RunRecord) -> None:
    html = render(record)
    doc = parse(html)
    meta = next(a for t, a in doc.tags if t == "meta" and a.get("http-equiv"))
    csp = meta["content"] or ""
    assert "default-src 'none'" in csp
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", csp)
    assert "unsafe-inline" not in csp.split("script-src")[1]


def test_matrix_rows_sources_columns_targets(record: RunRecord) -> None:
    m = build_matrix(record.verdicts)
    assert m.sources[:2] == ("c1", "c2")
    assert "nas" in m.targets and "host1" in m.targets
    assert m.worst("c1", "nas") == "fail"
    assert m.worst("c1", "c2") == "pass"
    assert m.worst("c2", "c1") == "error"
    assert [c.probe for c in m.cell("c2", "c1")] == ["tcp/80@v6net"]
    assert set(m.kinds) == {"arp", "icmp", "tcp"}
    chip = m.cell("c1", "host1")[0]
    assert (chip.expected, chip.observed) == ("unreachable", "silent")


def test_topology_marks_failing_paths(record: RunRecord) -> None:
    topo = layout(record)
    names = [n.name for n in topo.nodes]
    assert names.index("host1") < names.index("c1")  # a host, then its containers
    assert {n.name for n in topo.nodes if n.failing} == {"c1", "nas"}
    assert [(a.source, a.target, a.outcome) for a in topo.arcs] == [("c1", "nas", "fail")]
    assert {b.name for b in topo.buses} == {"lan", "pub_net", "v6net"}
    pub = next(b for b in topo.buses if b.name == "pub_net")
    assert "macvlan bridge" in pub.detail and "parent host1:eth0" in pub.detail


def test_topology_from_plan_when_no_topology(record_factory: Callable[..., RunRecord]) -> None:
    rec = record_factory(topology=None)
    topo = layout(rec, plan())
    assert [n.name for n in topo.nodes] == ["router", "host1", EVIL, "nas"]
    details = {b.name: b.detail for b in topo.buses}
    assert details["v100"] == "VLAN 100 · 10.100.0.0/24"
    assert details["pub"] == "macvlan bridge · parent trunk0.100 · 10.100.0.0/24"
    html = render(rec, plan())
    assert parse(html).scripts == 1
    assert "VLAN 100" in html


def test_no_topology_no_plan(record_factory: Callable[..., RunRecord]) -> None:
    html = render(record_factory(topology=None, verdicts=()))
    text = " ".join(parse(html).text)
    assert "The run built no topology." in text
    assert "No probes in this run." in text


def test_baseline_diff_section(record: RunRecord) -> None:
    diff = RunDiff(
        baseline_run="base01",
        current_run=record.run_id,
        scenario=record.scenario,
        newly_broken=(
            PathChange(
                expectation_id="icmp:c1->nas",
                path="icmp c1 -> nas",
                before="pass: answered",
                after="fail: silent",
                expected_reachable=True,
                findings=("rp-filter",),
            ),
        ),
        newly_opened=(
            PathChange(
                expectation_id="tcp/22:c1->db",
                path="tcp/22 c1 -> db",
                before="pass: silent",
                after="pass: refused",
                expected_reachable=False,
            ),
        ),
        host_changes=(
            HostChange(
                namespace="host",
                kind="sysctl",
                name="net.ipv4.conf.trunk0.136.rp_filter",
                before="2",
                after="1",
                text=f"rp_filter on trunk0.136 went 2 -> 1 {EVIL}",
            ),
        ),
    )
    html = render(record, diff=diff)
    doc = parse(html)
    assert doc.by_id("baseline-diff") is not None
    text = " ".join(doc.text)
    assert "2 regression(s) since the baseline" in text
    assert "the scenario does not expect this path to open" in text
    assert f"rp_filter on trunk0.136 went 2 -> 1 {EVIL}" in text
    assert doc.scripts == 1


def test_report_from_a_loaded_json_record(record: RunRecord, tmp_path: Path) -> None:
    JsonReporter().write(record, tmp_path / "r.json")
    assert render(load_record(tmp_path / "r.json")).count('class="chip') == len(
        [v for v in record.verdicts if "->" in v.expectation_id]
    )


# --- a large run: 50 endpoints, every ordered pair probed ----------------------------------

BIG = 50
# Measured: 2,450 verdicts (each with its sent and received packet) render to 2.97 MB, about
# 1.2 KB a verdict: 0.76 MB of matrix (310 B a chip), 2.14 MB of expectation details. The
# bound leaves room for longer names and messages, not for a second copy of anything.
BIG_BYTES_PER_VERDICT = 1700


def big_plan(n: int = BIG) -> Plan:
    names = [f"ep{i:02d}" for i in range(n)]
    subnet = ipaddress.ip_network("10.50.0.0/23")
    return Plan(
        name="mesh50",
        source="scenarios/mesh50.yaml",
        description="fifty containers on two hosts, every pair probed",
        lab=Lab(hosts=(Host(name="host1"), Host(name="host2"))),
        networks=(Network(name="net0", driver=Driver.BRIDGE, subnets=(Subnet(subnet=subnet),)),),
        endpoints=tuple(
            Endpoint(
                name=n,
                host="host1" if i % 2 else "host2",
                attachments=(Attachment(network="net0", ip=subnet[i + 10]),),
            )
            for i, n in enumerate(names)
        ),
        expectations=tuple(
            Expectation(
                id=f"icmp:{s}->{t}",
                source=s,
                target=Target(node=t),
                probe=ProbeSpec(kind=ProbeKind.ICMP),
                reachable=True,
            )
            for s in names
            for t in names
            if s != t
        ),
    )


def big_record(plan: Plan, make: Callable[..., RunRecord]) -> RunRecord:
    """Every expectation answered but one in 37, which fails: a run's worth of verdicts."""
    addr = {ep.name: ep.attachments[0].ip for ep in plan.endpoints}
    verdicts = []
    for n, exp in enumerate(plan.expectations):
        src, dst = addr[exp.source], addr[exp.target.node]
        bad = n % 37 == 0
        sent = Packet(summary=f"IP / ICMP {src} > {dst} echo-request 0", src=str(src), time=0.0)
        back = Packet(summary=f"IP / ICMP {dst} > {src} echo-reply 0", src=str(dst), time=0.0004)
        result = ProbeResult(
            probe_id=exp.id,
            source=exp.source,
            target=exp.target.node,
            target_address=dst,
            probe=exp.probe,
            observation=Observation.SILENT if bad else Observation.ANSWERED,
            detail="no echo reply in 1.0 s" if bad else f"echo reply from {dst} in 0.41 ms",
            rtt_ms=None if bad else 0.41,
            sent=(sent,),
            received=() if bad else (back,),
            source_interface="eth0",
            source_address=src,
        )
        verdicts.append(
            Verdict(
                expectation_id=exp.id,
                outcome=Outcome.FAIL if bad else Outcome.PASS,
                message=f"expected reachable, observed {result.observation.value}",
                expected="reachable",
                observed=result.observation.value,
                result=result,
                duration_s=0.001,
            )
        )
    return make(scenario=plan.name, source=plan.source, topology=None, verdicts=tuple(verdicts))


def test_a_fifty_endpoint_report_is_self_contained_and_compact(
    record_factory: Callable[..., RunRecord], tmp_path: Path
) -> None:
    plan = big_plan()
    record = big_record(plan, record_factory)
    assert len(record.verdicts) == BIG * (BIG - 1)
    path = tmp_path / "mesh50.html"
    HtmlReporter().write(record, path, plan=plan)
    size = path.stat().st_size
    html = path.read_text()
    doc = parse(html)

    # Self-contained: nothing to fetch, only in-page anchors, only the report's own script.
    for tag, attrs in doc.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)
    assert not re.search(r"url\((?!#)", html)  # CSS and SVG references stay in the page
    assert "https://" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert doc.scripts == 1

    # The whole 50 x 50 matrix is there, one chip a verdict, and every chip has its details.
    matrix = build_matrix(record.verdicts)
    assert (len(matrix.sources), len(matrix.targets)) == (BIG, BIG)
    chips = [a for t, a in doc.tags if t == "a" and "chip" in (a.get("class") or "").split()]
    assert len(chips) == len(record.verdicts)
    assert {a["href"] for a in chips} == {f"#v-{i}" for i in range(len(record.verdicts))}
    fails = sum(v.outcome is Outcome.FAIL for v in record.verdicts)
    assert len([a for a in chips if a.get("data-outcome") == "fail"]) == fails
    nodes = [a for t, a in doc.tags if t == "g" and a.get("class") == "node"]
    assert len(nodes) == BIG + 2  # the two hosts and their fifty containers

    # Compact enough to open and search in a browser: bounded per verdict.
    assert size < BIG_BYTES_PER_VERDICT * len(record.verdicts), size


FOLDED = 70  # 70 x 70 cells: above FOLD_CELLS


def test_a_big_matrix_folds_to_one_row_per_source(
    record_factory: Callable[..., RunRecord], tmp_path: Path
) -> None:
    plan = big_plan(FOLDED)
    record = big_record(plan, record_factory)
    matrix = build_matrix(record.verdicts)
    assert matrix.folded and not build_matrix(big_record(big_plan(), record_factory)
                                              .verdicts).folded
    path = tmp_path / "mesh70.html"
    HtmlReporter().write(record, path, plan=plan)
    html = path.read_text()
    doc = parse(html)
    assert 'id="matrix-folded"' in html and 'id="matrix"' not in html
    rows = [a for t, a in doc.tags if t == "tr"]
    assert len(rows) >= FOLDED + 1  # a header and a row per source
    # One chip per probe that did not pass, each opening details that are there.
    failing = [i for i, v in enumerate(record.verdicts) if v.outcome is not Outcome.PASS]
    chips = [a for t, a in doc.tags if t == "a" and "chip" in (a.get("class") or "").split()]
    assert sorted(int(a["href"][3:]) for a in chips) == failing
    details = {a["id"] for t, a in doc.tags if t == "details" and "id" in a}
    assert details == {f"v-{i}" for i in failing}
    counts, problems = matrix.row("ep00")
    assert counts["pass"] + counts["fail"] == FOLDED - 1
    assert len(problems) == counts["fail"]
    # Small: the passing verdicts are counted, not listed.
    assert path.stat().st_size < 400 * len(record.verdicts)
