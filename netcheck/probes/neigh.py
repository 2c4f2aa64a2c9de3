"""The neighbour table of the current namespace over a bare rtnetlink socket (no scapy).

Used by paced probe workers (schedule.py): a socket subscribed to neighbour events, so the
worker hears the moment an entry resolves, fails or is learned from a peer's request, and
requests to delete an entry or change its state. Requests are sent without waiting for an
acknowledgement; an error (the entry vanished meanwhile) comes back on the same socket and
is ignored.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import struct
from dataclasses import dataclass

from netcheck.probes import rtnl

NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
# An address the kernel can send to: learned (collectable) or configured.
NUD_VALID = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP
# Configured by someone (an admin, a runtime), never collected: netcheck leaves them alone.
NUD_KEEP = NUD_PERMANENT | NUD_NOARP

RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
_NLM_F_REQUEST, _NLM_F_DUMP, _NLM_F_REPLACE = rtnl.NLM_F_REQUEST, 0x300, 0x100
_RTMGRP_NEIGH = 0x4
_RTNLGRP_NEIGH = 3
_SOL_NETLINK, _NETLINK_DROP_MEMBERSHIP = 270, 2
_NDA_DST, _NDA_LLADDR = 1, 2
_NDMSG = struct.Struct("=BBHiHBB")
_RCVBUF = 4 << 20
_SO_RCVBUFFORCE = 33
_MAX_READS = 10_000


@dataclass(frozen=True, slots=True)
class NeighEntry:
    """One neighbour entry as a notification or a dump reports it."""

    family: int  # socket.AF_INET / AF_INET6
    ifindex: int
    dst: str
    state: int
    lladdr: bytes | None = None
    deleted: bool = False  # an RTM_DELNEIGH notification

    @property
    def key(self) -> tuple[int, str]:
        return (self.ifindex, self.dst)


def parse(data: bytes) -> tuple[list[NeighEntry], bool]:
    """Entries in one netlink read, and whether a dump ended (NLMSG_DONE) in it."""
    out: list[NeighEntry] = []
    done = False
    for mtype, _seq, msg in rtnl.messages(data):
        if mtype == rtnl.NLMSG_DONE:
            done = True
            continue
        if mtype not in (RTM_NEWNEIGH, RTM_DELNEIGH) or len(msg) < _NDMSG.size:
            continue  # errors of our fire-and-forget requests, and anything else
        family, _p1, _p2, ifindex, state, _flags, _type = _NDMSG.unpack_from(msg)
        attrs = rtnl.attrs(msg, _NDMSG.size)
        raw_dst = attrs.get(_NDA_DST)
        if raw_dst is None or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        out.append(
            NeighEntry(
                family=family,
                ifindex=ifindex,
                # IPv4 by inet_ntop: the same text as ipaddress, ~10x cheaper (IPv6 differs
                # for mapped addresses, so it keeps ipaddress's spelling, the pacer's keys').
                dst=socket.inet_ntop(family, raw_dst) if family == socket.AF_INET
                else str(ipaddress.ip_address(raw_dst)),
                state=state,
                lladdr=attrs.get(_NDA_LLADDR),
                deleted=mtype == RTM_DELNEIGH,
            )
        )
    return out, done


def request(
    mtype: int, flags: int, seq: int, *, family: int, ifindex: int = 0, state: int = 0,
    dst: str | None = None, lladdr: bytes | None = None,
) -> bytes:
    """One rtnetlink neighbour message (new/del/get)."""
    body = _NDMSG.pack(family, 0, 0, ifindex, state, 0, 0)
    if dst is not None:
        # inet_pton: a pacer sends one of these per pair of a mesh (62,250 at N=250).
        af = family if family in (socket.AF_INET, socket.AF_INET6) else (
            socket.AF_INET6 if ":" in dst else socket.AF_INET)
        body += rtnl.attr(_NDA_DST, socket.inet_pton(af, dst))
    if lladdr is not None:
        body += rtnl.attr(_NDA_LLADDR, lladdr)
    return rtnl.message(mtype, flags, seq, body)


class NeighSocket:
    """Neighbour events and requests in the namespace this process is in."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        self._sock.bind((0, _RTMGRP_NEIGH))
        self._seq = 0
        self.lost = False  # events were dropped (ENOBUFS): the caller should dump

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def mute(self) -> None:
        """Stop hearing events: requests from here on (the final deletes) are not echoed
        back to this socket, one notification each."""
        with contextlib.suppress(OSError):
            self._sock.setsockopt(_SOL_NETLINK, _NETLINK_DROP_MEMBERSHIP, _RTNLGRP_NEIGH)

    def _send(self, mtype: int, flags: int, **fields: object) -> None:
        self._seq += 1
        # A request that cannot be sent changes nothing; the events still tell.
        with contextlib.suppress(OSError):
            self._sock.send(request(mtype, flags, self._seq, **fields))  # type: ignore[arg-type]

    def read(self) -> list[NeighEntry]:
        """Every event queued now (non-blocking)."""
        out: list[NeighEntry] = []
        for _ in range(_MAX_READS):
            try:
                data = self._sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.lost = True
                    continue
                raise
            out.extend(parse(data)[0])
        return out

    def dump(self) -> list[NeighEntry]:
        """The whole table (both families); events that arrive meanwhile are included."""
        self._send(RTM_GETNEIGH, _NLM_F_REQUEST | _NLM_F_DUMP, family=socket.AF_UNSPEC)
        out: list[NeighEntry] = []
        self._sock.settimeout(5.0)
        try:
            for _ in range(_MAX_READS):
                try:
                    data = self._sock.recv(1 << 16)
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS:
                        continue
                    break  # a timeout: what was read is all there is
                got, done = parse(data)
                out.extend(got)
                if done:
                    break
        finally:
            self._sock.settimeout(None)
        self.lost = False
        return out

    def delete(self, entry: NeighEntry) -> None:
        self._send(
            RTM_DELNEIGH, _NLM_F_REQUEST, family=entry.family, ifindex=entry.ifindex,
            dst=entry.dst,
        )

    def set_state(self, entry: NeighEntry, state: int) -> None:
        """Change an existing entry's state (never creates one)."""
        self._send(
            RTM_NEWNEIGH, _NLM_F_REQUEST | _NLM_F_REPLACE, family=entry.family,
            ifindex=entry.ifindex, state=state, dst=entry.dst,
            lladdr=entry.lladdr if state & NUD_VALID else None,
        )
