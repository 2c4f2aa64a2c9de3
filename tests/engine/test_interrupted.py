"""SIGTERM's exception must cross asyncio, which pyroute2 runs in netcheck's own thread."""

from __future__ import annotations

import asyncio
import signal
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


class _InterruptedBuild:
    """A runtime whose build is cut short by Ctrl-C; records whether teardown ran."""

    name = "sig-test"
    torn_down: list[bool] = []

    def __init__(self, options: object) -> None:
        pass

    def build(self, plan: object, progress: object) -> object:
        raise KeyboardInterrupt

    def teardown(self) -> None:
        self.torn_down.append(True)


def test_a_second_signal_while_teardown_is_announced_does_not_skip_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C, then Ctrl-C again while the console prints "teardown": the second one used to
    # raise out of the announcement, before the handlers that hold signals were installed,
    # and nothing was torn down.
    from netcheck.engine import events as ev
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.runtime import base
    from netcheck.scenario import load_plan
    from tests.helpers import ROOT

    # In place: a runtime module first imported meanwhile must register into the real one.
    monkeypatch.setitem(base._REGISTRY, "sig-test", _InterruptedBuild)
    monkeypatch.setattr("netcheck.engine.run.os.geteuid", lambda: 0)
    _InterruptedBuild.torn_down.clear()

    def listener(event: ev.Event) -> None:
        if isinstance(event, ev.PhaseStarted) and event.phase == "teardown":
            signal.raise_signal(signal.SIGINT)

    plan = load_plan(ROOT / "scenarios" / "quickstart.yaml")
    with pytest.raises(KeyboardInterrupt):
        run_plan(plan, RunOptions(runtime="sig-test"), listener)
    assert _InterruptedBuild.torn_down == [True]
