"""SIGTERM's exception must cross asyncio, which pyroute2 runs in netcheck's own thread."""

from __future__ import annotations

import asyncio
import socket

import pytest

from netcheck.engine.run import Interrupted


def _later(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A wait of 5 s that leaves no coroutine behind when it is cut short."""
    done: asyncio.Future[None] = loop.create_future()
    loop.call_later(5, done.set_result, None)
    return done


def test_interrupted_escapes_an_asyncio_callback() -> None:
    # asyncio logs and swallows any BaseException from a callback except SystemExit and
    # KeyboardInterrupt; a swallowed SIGTERM left a run waiting forever on netlink.
    loop = asyncio.new_event_loop()
    try:
        def boom() -> None:
            raise Interrupted(15)

        loop.call_soon(boom)
        with pytest.raises(Interrupted):
            loop.run_until_complete(_later(loop))
    finally:
        loop.close()


def test_interrupted_escapes_a_datagram_transport_read() -> None:
    # The CI hang: the signal landed while the transport was reading a netlink datagram.
    loop = asyncio.new_event_loop()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)

    class Reader(asyncio.DatagramProtocol):
        pass

    class Interrupting(socket.socket):
        def recvfrom(self, *args: object, **kwargs: object) -> tuple[bytes, object]:
            raise Interrupted(15)

    try:
        sock = Interrupting(fileno=a.detach())
        sock.setblocking(False)
        transport, _ = loop.run_until_complete(loop.create_datagram_endpoint(Reader, sock=sock))
        b.send(b"x")
        with pytest.raises(Interrupted):
            loop.run_until_complete(_later(loop))
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
        b.close()


def test_interrupted_carries_the_signal() -> None:
    exc = Interrupted(15)
    assert exc.signum == 15
    assert "signal 15" in str(exc)
