"""Two namespaces joined by a veth (va in a, vb in b) where b's INPUT chain drops UDP to
port 9, and one datagram sent into that drop: the kernel drop the tracefs tests record."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from netcheck.diagnose import counters


@contextmanager
def namespaces(tag: str) -> Iterator[tuple[str, str]]:
    """Two empty namespaces `nctest-<tag><pid>a/b`, deleted on the way out."""
    names = (f"nctest-{tag}{os.getpid()}a", f"nctest-{tag}{os.getpid()}b")
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], check=False)


def wire(a: str, b: str, net: str) -> None:
    """`net`.1 on va in `a`, `net`.2 on vb in `b` (a /24); b drops UDP to port 9."""
    subprocess.run(["ip", "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb",
                    "netns", b], check=True)
    for ns, dev, addr in ((a, "va", f"{net}.1/24"), (b, "vb", f"{net}.2/24")):
        subprocess.run(["ip", "-n", ns, "addr", "add", addr, "dev", dev], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True)
    subprocess.run(["ip", "netns", "exec", b, "iptables", "-A", "INPUT", "-p", "udp",
                    "--dport", "9", "-j", "DROP"], check=True)


def send_dropped(a: str, b: str, dst: str, *, fresh_arp: bool = False) -> None:
    """One UDP datagram a -> `dst` (b's) that b drops; returns once b received it."""
    if fresh_arp:
        subprocess.run(["ip", "-n", a, "neigh", "flush", "dev", "va"], check=True)
    before = counters.read(f"/run/netns/{b}")
    subprocess.run(["ip", "netns", "exec", a, "python3", "-c",
                    "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
                    f"s.sendto(b'x', ('{dst}', 9))"], check=True)
    # The datagram may wait for ARP; poll (bounded) until b has received it.
    deadline = time.monotonic() + 5
    while counters.delta(before, counters.read(f"/run/netns/{b}")).get("Ip.InReceives", 0) < 1:
        assert time.monotonic() < deadline, "the datagram never arrived"
        time.sleep(0.01)
