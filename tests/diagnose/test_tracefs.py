"""The run's one trace instance: events switched on once, windows by tracing_on (real
tracefs, two namespaces joined by a veth; run under the lab lock)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.diagnose import tracefs
from netcheck.diagnose.tracefs import DropRecorder, Window
from netcheck.runtime.naming import new_run_id
from tests.diagnose import dropping


@pytest.fixture
def veth_pair() -> Iterator[tuple[str, str]]:
    """Namespaces a (10.9.1.1 on va) and b (10.9.1.2 on vb); b drops UDP to port 9."""
    with dropping.namespaces("tr") as names:
        dropping.wire(*names, "10.9.1")
        yield names


def send_dropped(a: str, b: str, *, fresh_arp: bool = False) -> None:
    dropping.send_dropped(a, b, "10.9.1.2", fresh_arp=fresh_arp)


def _kernel() -> tuple[int, int]:
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int(minor)


def _netfilter_drops(drops: list[tracefs.Drop]) -> list[tracefs.Drop]:
    return [d for d in drops if d.reason == "NETFILTER_DROP"]


@pytest.mark.privileged
def test_windows_toggle_tracing_only_and_keep_their_own_drops(
    veth_pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = veth_pair
    writes: list[tuple[str, str]] = []
    real_write = tracefs._write

    def counted(path: str, text: str) -> None:  # the real write, remembered
        writes.append((path, text))
        real_write(path, text)

    monkeypatch.setattr(tracefs, "_write", counted)
    rec = DropRecorder(new_run_id())
    try:
        assert rec.begin(Window.PROBES), rec.problem
        instance = rec.instance
        assert instance is not None and os.path.isdir(instance)
        send_dropped(a, b)
        first = _netfilter_drops(rec.end())
        assert [(d.dev, d.protocol) for d in first] == [("vb", "IPv4")]
        for _ in range(3):  # the diagnosis's re-sends
            assert rec.begin(Window.RESEND), rec.problem
            send_dropped(a, b)
            again = _netfilter_drops(rec.end())
            # Its own drop only: the buffer was emptied, nothing of an earlier window.
            assert [d.dev for d in again] == ["vb"]
            assert again[0].time > first[0].time
        assert rec.begin(Window.RESEND)
        assert _netfilter_drops(rec.end()) == []  # nothing sent, nothing seen
        assert rec.instance == instance  # one instance all along
    finally:
        rec.close()
    assert not os.path.exists(instance)
    enables = [(Path(p).parent.name, t) for p, t in writes if p.endswith("/enable")]
    # Each event on once, off once (at close): no toggle between the windows.
    assert sorted(enables) == [("kfree_skb", "0"), ("kfree_skb", "1"),
                               ("netif_receive_skb", "0"), ("netif_receive_skb", "1")]
    ons = [t for p, t in writes if p.endswith("/tracing_on")]
    assert ons.count("1") == 5


@pytest.mark.privileged
def test_probe_window_records_no_arp_receive_and_a_resend_does(
    veth_pair: tuple[str, str]
) -> None:
    """A mesh delivers each ARP request to every namespace: the probe window filters those
    receives out in the kernel; a re-send's window keeps them (the path walk names an ARP
    drop's device)."""
    a, b = veth_pair
    rec = DropRecorder(new_run_id())
    try:
        seen: dict[Window, str] = {}
        for window in (Window.PROBES, Window.RESEND):
            assert rec.begin(window), rec.problem
            send_dropped(a, b, fresh_arp=True)
            drops = _netfilter_drops(rec.end())
            assert [d.dev for d in drops] == ["vb"], window  # the IP drop named either way
            assert rec.instance is not None
            seen[window] = Path(rec.instance, "trace").read_text()
            kfree = Path(rec.instance, "events", "skb", "kfree_skb", "filter").read_text()
            # Filtering on a function needs Linux 6.3 (older ones keep the plain filter).
            if _kernel() >= (6, 3):
                assert ("ping_rcv" in kfree) == (window is Window.PROBES), kfree
        arp = "netif_receive_skb: dev=vb skbaddr="
        arp_lines = {w: [ln for ln in text.splitlines() if arp in ln and ln.endswith("len=28")]
                     for w, text in seen.items()}
        assert arp_lines[Window.PROBES] == []
        assert arp_lines[Window.RESEND], seen[Window.RESEND][-2000:]
    finally:
        rec.close()


def test_overrun_sums_every_cpu(tmp_path: Path) -> None:
    for cpu, lost in (("cpu0", 3), ("cpu1", 0), ("cpu2", 40)):
        (tmp_path / "per_cpu" / cpu).mkdir(parents=True)
        (tmp_path / "per_cpu" / cpu / "stats").write_text(
            f"entries: 12\noverrun: {lost}\ncommit overrun: 0\nbytes: 640\n")
    assert tracefs._overrun(str(tmp_path)) == 43


def test_parse_ties_each_drop_to_its_own_receive() -> None:
    lines = [
        "  <idle>-0 [000] ..s2. 11.000001: netif_receive_skb: dev=eth1 "
        "skbaddr=00000000deadbeef len=84",
        "  <idle>-0 [000] ..s2. 11.000002: kfree_skb: skbaddr=00000000deadbeef "
        "rx_sk=0000000000000000 protocol=2048 location=ip_rcv_finish_core+0x1e3/0x4a0 "
        "reason: IP_RPFILTER",
        # The same address again later: a new packet; this one was never received here.
        "  <idle>-0 [000] ..s2. 11.000003: kfree_skb: skbaddr=00000000deadbeef "
        "rx_sk=0000000000000000 protocol=2054 location=neigh_invalidate+0x8c/0x130 "
        "reason: NEIGH_FAILED",
    ]
    got = tracefs.parse(lines)
    assert [(d.dev, d.protocol, d.reason, d.function) for d in got] == [
        ("eth1", "IPv4", "IP_RPFILTER", "ip_rcv_finish_core"),
        (None, "ARP", "NEIGH_FAILED", "neigh_invalidate"),
    ]


def test_a_closed_recorder_never_opens_again() -> None:
    """The run's recorder is opened by the probe window's thread while the main thread may
    already be closing it (a signal): an instance made after close() would outlive the run."""
    rec = DropRecorder(new_run_id())
    rec.close()
    assert rec.open() is False
    assert rec.begin(Window.PROBES) is False
    assert rec.instance is None
