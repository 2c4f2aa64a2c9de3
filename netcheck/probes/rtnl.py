"""The rtnetlink framing shared by route.py (route get) and neigh.py (neighbour table).

Messages and attributes are walked here once; each caller unpacks its own body struct.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
RTATTR = struct.Struct("=HH")  # length, type
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST = 0x1
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER


def align(n: int) -> int:
    return (n + 3) & ~3


def messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(type, seq, body) of each netlink message in one read."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, mtype, _flags, seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size:
            return
        yield mtype, seq, data[offset + NLMSGHDR.size : offset + length]
        offset += align(length)


def attrs(data: bytes, offset: int) -> dict[int, bytes]:
    """The attributes from `offset` to the end of `data`, by type."""
    out: dict[int, bytes] = {}
    while offset + RTATTR.size <= len(data):
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size:
            break
        out[kind & _NLA_TYPE_MASK] = data[offset + RTATTR.size : offset + length]
        offset += align(length)
    return out


def attr(kind: int, value: bytes) -> bytes:
    """One attribute, padded to the next 4-byte boundary."""
    blob = RTATTR.pack(RTATTR.size + len(value), kind) + value
    return blob + b"\0" * (align(len(blob)) - len(blob))


def message(mtype: int, flags: int, seq: int, body: bytes) -> bytes:
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), mtype, flags, seq, 0) + body
