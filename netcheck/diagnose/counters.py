"""Kernel SNMP/netstat counters of a namespace, and what moved while the probes ran.

`/proc/net/netstat` and `/proc/net/snmp` come in pairs of lines: a header of names and a
line of values, both starting with the group (`TcpExt:`, `IpExt:`, `Ip:`...). The counters
are per network namespace, so a delta read inside the target's namespace is evidence about
that node alone (e.g. `TcpExt.IPReversePathFilter`: packets dropped by rp_filter).
"""

from __future__ import annotations

from collections.abc import Mapping

from netcheck.diagnose.nsread import read_files

FILES = ("/proc/net/netstat", "/proc/net/snmp")

Counters = dict[str, int]


def parse(text: str) -> Counters:
    out: Counters = {}
    lines = text.splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        group, _, names = header.partition(":")
        vgroup, _, nums = values.partition(":")
        if group != vgroup:
            continue
        for name, num in zip(names.split(), nums.split(), strict=False):
            try:
                out[f"{group}.{name}"] = int(num)
            except ValueError:
                continue
    return out


def read(netns: str) -> Counters:
    out: Counters = {}
    for text in read_files(netns, FILES).values():
        if text:
            out.update(parse(text))
    return out


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> Counters:
    """Counters that grew, by how much."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
