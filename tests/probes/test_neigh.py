"""Neighbour netlink messages: what requests carry, what notifications parse to."""

from __future__ import annotations

import socket
import struct

from netcheck.probes.neigh import (
    NUD_PERMANENT,
    NUD_STALE,
    RTM_DELNEIGH,
    RTM_NEWNEIGH,
    parse,
    request,
)


def test_a_notification_parses_to_its_entry() -> None:
    msg = request(RTM_NEWNEIGH, 0, 7, family=socket.AF_INET, ifindex=3, state=NUD_STALE,
                  dst="10.1.2.3", lladdr=b"\x02\x42\x0a\x01\x02\x03")
    done = struct.pack("=IHHII", 20, 3, 2, 7, 0) + b"\0" * 4  # NLMSG_DONE
    entries, finished = parse(msg + done)
    assert finished
    assert len(entries) == 1
    e = entries[0]
    assert (e.family, e.ifindex, e.dst, e.state) == (socket.AF_INET, 3, "10.1.2.3", NUD_STALE)
    assert e.lladdr == b"\x02\x42\x0a\x01\x02\x03" and not e.deleted
    assert e.key == (3, "10.1.2.3")


def test_ipv6_deletions_and_errors() -> None:
    gone = request(RTM_DELNEIGH, 0, 1, family=socket.AF_INET6, ifindex=5, dst="fd00::7")
    error = struct.pack("=IHHII", 36, 2, 0, 9, 0) + struct.pack("=i", -2) + b"\0" * 16
    entries, finished = parse(error + gone)
    assert not finished
    assert [(e.dst, e.deleted) for e in entries] == [("fd00::7", True)]


def test_a_state_change_request_is_well_formed() -> None:
    msg = request(RTM_NEWNEIGH, 0x101, 4, family=socket.AF_INET, ifindex=2,
                  state=NUD_PERMANENT, dst="10.0.0.9", lladdr=b"\x02" * 6)
    length, mtype, flags, seq, _pid = struct.unpack_from("=IHHII", msg)
    assert (length, mtype, flags, seq) == (len(msg), RTM_NEWNEIGH, 0x101, 4)
    assert length % 4 == 0  # attributes padded to 4 bytes
    entries, _ = parse(msg)
    assert entries[0].state == NUD_PERMANENT and entries[0].lladdr == b"\x02" * 6
