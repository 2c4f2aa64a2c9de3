"""The rtnetlink `route get` request (pure: bytes only)."""

from __future__ import annotations

import ipaddress
import socket
import struct

from netcheck.probes.route import _request
from netcheck.probes.rtnl import attrs

_HDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
ip = ipaddress.ip_address


def _decode(data: bytes) -> tuple[tuple[int, ...], dict[int, bytes]]:
    length = _HDR.unpack_from(data)[0]
    assert length == len(data)
    rtm = _RTMSG.unpack_from(data, _HDR.size)
    return rtm, attrs(data, _HDR.size + _RTMSG.size)


def test_destination_only() -> None:
    rtm, attrs = _decode(_request(7, ip("10.20.0.5")))
    assert (rtm[0], rtm[1], rtm[2]) == (socket.AF_INET, 32, 0)
    assert attrs == {1: ip("10.20.0.5").packed}


def test_pinned_source_asks_as_a_bound_socket_would() -> None:
    # `ip route get 10.20.0.5 from 10.20.9.10`: RTA_SRC with a full-length source prefix.
    rtm, attrs = _decode(_request(7, ip("10.20.0.5"), ip("10.20.9.10")))
    assert (rtm[1], rtm[2]) == (32, 32)
    assert attrs == {1: ip("10.20.0.5").packed, 2: ip("10.20.9.10").packed}
    rtm, attrs = _decode(_request(8, ip("fd00::5"), ip("fd00:9::10")))
    assert (rtm[0], rtm[1], rtm[2]) == (socket.AF_INET6, 128, 128)
    assert attrs[2] == ip("fd00:9::10").packed


def test_a_source_of_the_other_family_is_left_out() -> None:
    rtm, attrs = _decode(_request(9, ip("fd00::5"), ip("10.20.9.10")))
    assert rtm[2] == 0 and 2 not in attrs
