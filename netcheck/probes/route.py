"""Ask the kernel (inside the current namespace) how a probe would leave: `ip route get`.

A bare rtnetlink RTM_GETROUTE, every destination of a worker in one round trip: pyroute2
costs ~1.5 ms of CPU per lookup, which for 50 workers x 49 targets on 2 cores was most of
the probe phase. Interface facts come from ioctls on the same namespace.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from netcheck.model.plan import IPAddress
from netcheck.probes import rtnl

RTN_LOCAL = 2
_RTM_NEWROUTE = 24
_RTM_GETROUTE = 26
_RTA_DST, _RTA_SRC, _RTA_OIF, _RTA_GATEWAY, _RTA_PREFSRC, _RTA_METRICS = 1, 2, 4, 5, 7, 8
_RTAX_MTU = 2
_SIOCGIFMTU = 0x8921
_SIOCGIFHWADDR = 0x8927
_RTMSG = struct.Struct("=BBBBBBBBI")
_CHUNK = 256
_NETLINK_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteInfo:
    """The kernel's answer for one destination, plus the facts of the outgoing interface."""

    ifname: str
    ifindex: int
    src: IPAddress | None
    gateway: IPAddress | None
    mtu: int | None
    mac: str | None
    local: bool = False  # the destination is an address of this namespace

    @property
    def on_link(self) -> bool:
        return self.gateway is None and not self.local


class RouteError(Exception):
    """The kernel has no usable route: the probe cannot be sent."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


def describe_errno(code: int) -> str:
    """Human text for a routing/sending errno, phrased for a probe that could not leave."""
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"no route to host ({os.strerror(code)})"
    if code == errno.EACCES:
        return f"route prohibits sending ({os.strerror(code)})"
    if code == errno.EINVAL:
        return f"no usable route, e.g. a blackhole route ({os.strerror(code)})"
    if code == errno.ENODEV:
        return "no such interface"
    return os.strerror(code)


# A destination, or (destination, source): `ip route get DST from SRC`, the lookup the
# kernel makes for a socket bound to SRC (source policy rules apply).
Key = tuple[IPAddress, IPAddress | None]


def _request(seq: int, dst: IPAddress, src: IPAddress | None = None) -> bytes:
    family = socket.AF_INET6 if dst.version == 6 else socket.AF_INET
    addr = dst.packed
    rta = rtnl.attr(_RTA_DST, addr)
    src_len = 0
    if src is not None and src.version == dst.version:
        rta += rtnl.attr(_RTA_SRC, src.packed)
        src_len = len(src.packed) * 8
    body = _RTMSG.pack(family, len(addr) * 8, src_len, 0, 0, 0, 0, 0, 0) + rta
    return rtnl.message(_RTM_GETROUTE, rtnl.NLM_F_REQUEST, seq, body)


class RouteLookup:
    """`route get` for many destinations through one rtnetlink socket of this namespace."""

    def __init__(self) -> None:
        self._links: dict[int, tuple[str, int | None, str | None]] = {}
        self._routes: dict[Key, RouteInfo | RouteError] = {}

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Look up every (destination, source) not seen yet, pipelined: all requests, then
        all replies."""
        todo = list(dict.fromkeys(k for k in keys if k not in self._routes))
        if not todo:
            return
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
            nl.bind((0, 0))
            nl.settimeout(_NETLINK_TIMEOUT_S)
            # Chunks keep the replies within the socket's receive buffer.
            for start in range(0, len(todo), _CHUNK):
                self._exchange(nl, todo[start : start + _CHUNK], first_seq=start + 1)

    def _exchange(self, nl: socket.socket, keys: list[Key], first_seq: int) -> None:
        pending: dict[int, Key] = dict(enumerate(keys, start=first_seq))
        for seq, (dst, src) in pending.items():
            nl.send(_request(seq, dst, src))
        while pending:
            try:
                data = nl.recv(65536)
            except OSError as exc:  # timeout or ENOBUFS: never hang, never guess
                for key in pending.values():
                    code = exc.errno or errno.ETIMEDOUT
                    self._routes[key] = RouteError(code, f"route get {key[0]}: netlink: {exc}")
                return
            for mtype, seq, msg in rtnl.messages(data):
                found = pending.pop(seq, None)
                if found is not None:
                    self._routes[found] = self._parse(found[0], mtype, msg)

    def get(self, dst: IPAddress, src: IPAddress | None = None) -> RouteInfo:
        key = (dst, src)
        if key not in self._routes:
            self.prefetch([key])
        cached = self._routes[key]
        if isinstance(cached, RouteError):
            raise cached
        return cached

    def _parse(self, dst: IPAddress, mtype: int, msg: bytes) -> RouteInfo | RouteError:
        if mtype == rtnl.NLMSG_ERROR:
            code = -struct.unpack_from("=i", msg)[0] or errno.EHOSTUNREACH
            return RouteError(code, f"route get {dst}: {describe_errno(code)}")
        if mtype != _RTM_NEWROUTE:
            return RouteError(errno.EHOSTUNREACH, f"route get {dst}: unexpected reply {mtype}")
        rtype = msg[6]  # rtm_type
        attrs = rtnl.attrs(msg, _RTMSG.size)
        if _RTA_OIF not in attrs:
            return RouteError(errno.ENODEV, f"route get {dst}: no outgoing interface")
        oif = struct.unpack("=I", attrs[_RTA_OIF][:4])[0]
        try:
            ifname, link_mtu, mac = self._link(oif)
        except OSError as exc:
            return RouteError(exc.errno or errno.ENODEV, f"route get {dst}: interface {oif}: {exc}")
        mtu = link_mtu
        if _RTA_METRICS in attrs:
            route_mtu = rtnl.attrs(attrs[_RTA_METRICS], 0).get(_RTAX_MTU)
            if route_mtu:
                value = struct.unpack("=I", route_mtu[:4])[0]
                mtu = value if mtu is None else min(value, mtu)
        src = attrs.get(_RTA_PREFSRC)
        gateway = attrs.get(_RTA_GATEWAY)
        return RouteInfo(
            ifname=ifname,
            ifindex=oif,
            src=ipaddress.ip_address(src) if src else None,
            gateway=ipaddress.ip_address(gateway) if gateway else None,
            mtu=mtu,
            mac=mac,
            local=rtype == RTN_LOCAL,
        )

    def _link(self, index: int) -> tuple[str, int | None, str | None]:
        if index not in self._links:
            name = socket.if_indextoname(index)
            raw_name = name.encode()[:15].ljust(16, b"\0")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                mtu_req = fcntl.ioctl(s, _SIOCGIFMTU, raw_name + b"\0" * 24)
                mtu = struct.unpack_from("=i", mtu_req, 16)[0]
                hw = fcntl.ioctl(s, _SIOCGIFHWADDR, raw_name + b"\0" * 24)
            family = struct.unpack_from("=H", hw, 16)[0]
            octets = hw[18:24]
            mac = ":".join(f"{b:02x}" for b in octets) if family == 1 else None  # ARPHRD_ETHER
            self._links[index] = (name, mtu, mac)
        return self._links[index]
