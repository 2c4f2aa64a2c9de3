"""The path strip: one compact line and a small HTML strip, hop by hop."""

from __future__ import annotations

from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import (
    Finding,
    Hop,
    HopState,
    Observation,
    Outcome,
    PacketPath,
    ProbeResult,
    Verdict,
)
from netcheck.reports import pathstrip

PATH = PacketPath(hops=(
    Hop(node="c1", state=HopState.SEEN, evidence=("c1: Ip.OutTransmits +1",)),
    Hop(node="br0", state=HopState.SEEN, iif="veth1"),
    Hop(node="r1", state=HopState.DROPPED, iif="eth0", reason="IP_RPFILTER",
        location="ip_rcv_finish_core+0x260/0x470",
        evidence=("kernel drop: <IPv4> on eth0",)),
    Hop(node="c2", state=HopState.NOT_REACHED, iif="eth0"),
), note="re-sent alone: silent")


def verdict(path: PacketPath | None = PATH) -> Verdict:
    result = ProbeResult(probe_id="icmp:c1->c2", source="c1", target="c2",
                         target_address=None, probe=ProbeSpec(kind=ProbeKind.ICMP),
                         observation=Observation.SILENT, detail="no echo reply")
    return Verdict(expectation_id="icmp:c1->c2", outcome=Outcome.PASS, message="m",
                   expected="unreachable", observed="silent", result=result,
                   findings=(Finding(id="rp-filter", summary="r1 drops it", evidence=(),
                                     confirmed_by="the drop at r1 (IP_RPFILTER)"),
                             Finding(id="no-route", summary="other", evidence=())),
                   path=path)


def test_one_compact_line() -> None:
    assert pathstrip.strip_text(PATH) == (
        "c1 ✓ → br0 ✓ → r1 ✗ dropped here: IP_RPFILTER (ip_rcv_finish_core) → "
        "c2 · never reached")
    assert pathstrip.strip_text(PATH, unicode=False) == (
        "c1 ok -> br0 ok -> r1 X dropped here: IP_RPFILTER (ip_rcv_finish_core) -> "
        "c2 . never reached")


def test_the_reply_follows_after_a_turn_and_counters_name_a_drop() -> None:
    path = PacketPath(hops=(
        Hop(node="c1", state=HopState.SEEN), Hop(node="t", state=HopState.SEEN),
        Hop(node="h", state=HopState.DROPPED, direction="reply", counter="Ip.InNoRoutes +1"),
        Hop(node="c1", state=HopState.NOT_OBSERVED, direction="reply"),
    ))
    assert pathstrip.strip_text(path) == (
        "c1 ✓ → t ✓ ⇠ reply: h ✗ dropped here: Ip.InNoRoutes +1 → c1 ? not observed")


def test_lines_say_which_finding_the_drop_confirms() -> None:
    lines = pathstrip.verdict_lines(verdict())
    assert lines[0].startswith("path: c1 ✓")
    assert "  rp-filter: confirmed by the drop at r1 (IP_RPFILTER)" in lines
    assert not any("no-route" in line for line in lines)
    detail = pathstrip.text_block(verdict())
    assert "request r1 (in on eth0): dropped here" in detail
    assert "    kernel drop: <IPv4> on eth0" in detail
    assert pathstrip.verdict_lines(verdict(None)) == []


def test_html_strip_escapes_and_marks_each_hop() -> None:
    page = str(pathstrip.html_fragment(verdict()))
    assert page.count('class="ps-hop ps-') == 4
    assert 'class="ps-hop ps-dropped"' in page and "dropped here: IP_RPFILTER" in page
    assert "&lt;IPv4&gt;" in page and "<IPv4>" not in page  # evidence is escaped
    assert "rp-filter: confirmed by the drop at r1" in page
    assert str(pathstrip.html_fragment(verdict(None))) == ""
