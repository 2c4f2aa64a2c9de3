"""One batch: send every packet, then collect answers for one timeout. Scapy's sr() core.

Matching is scapy's own: `reply.hashret()` buckets, then `reply.answers(sent)` — which for
ICMP errors compares the quoted header (IPerror/TCPerror/UDPerror/ICMPerror) with the
probe, so a port-unreachable is paired with the UDP datagram that caused it. One shortcut
(wire.py): a plain IPv4 echo reply is read from its bytes and paired with its request by
(addresses, id, seq), the pairing scapy would make, without dissecting either.

Why not `scapy.sendrecv.sndrcv` itself (measured with 30-50 workers on 2 cores):
- its send loop calls `time.sleep(inter)` after every packet; `sleep(0)` gives the CPU
  away, and on a loaded host 29 packets took 1.07 s to leave;
- it stops at the deadline with replies still queued in the socket (a worker that waited
  for a CPU then reports live targets as SILENT); here the kernel's receive timestamp
  decides, and whatever is queued is read;
- the threaded mode passes the GIL back and forth between sender and receiver per packet.
"""

from __future__ import annotations

import ctypes
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any

from scapy.config import conf
from scapy.supersocket import L3RawSocket, L3RawSocket6

from netcheck.model.plan import IPAddress
from netcheck.probes.neigh import NUD_FAILED, NUD_PERMANENT, NeighSocket
from netcheck.probes.schedule import Action, NeighbourPacer
from netcheck.probes.wire import Probe, Reply, recv_reply

_RCVBUF = 8 << 20
_SO_RCVBUFFORCE = 33
_SO_ATTACH_FILTER = 26
_MAX_READS = 100_000
_MTU = 0xFFFF
_TOKEN_POLL_S = 0.01


class SendErrors:
    """sendto() errors by probe identity: scapy's own sockets log them and carry on."""

    def __init__(self) -> None:
        self.by_id: dict[int, OSError] = {}
        self._lock = threading.Lock()

    def record(self, probe: Probe, exc: OSError) -> None:
        with self._lock:
            self.by_id[id(probe)] = exc


@dataclass(slots=True)
class Exchange:
    """The outcome of one batch."""

    answers: dict[int, list[Reply]] = field(default_factory=dict)  # by id(probe)
    send_s: float = 0.0
    frames: int = 0  # read from the socket, matched or not


# --- sockets ----------------------------------------------------------------------------------


def _drain(sock: socket.socket) -> None:
    """Drop what the socket queued before its filter was attached: no reply can be there yet.

    A packet socket receives from the moment it exists; frames that arrived before
    SO_ATTACH_FILTER (other workers' probes, mostly) would otherwise reach Python.
    """
    for _ in range(_MAX_READS):
        try:
            sock.recv(_MTU, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return


def _big_rcvbuf(sock: socket.socket) -> None:
    """Room for every reply while the worker is still sending or waits for a CPU.

    The default ~200 kB holds ~150 frames (outgoing copies count too); with 50 workers on
    2 cores the kernel dropped replies and live targets looked SILENT.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def attach_filter(sock: socket.socket, program: Sequence[tuple[int, int, int, int]]) -> bool:
    """Attach a classic BPF program; False (and no filter) when the kernel refuses it."""
    insns = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    fprog = _SockFprog(len(program), insns)
    blob = bytes(ctypes.string_at(ctypes.addressof(fprog), ctypes.sizeof(fprog)))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, blob)
    except OSError:
        return False
    return True


# Classic BPF opcodes.
_LD_W_ABS, _LD_B_ABS, _LD_H_ABS, _LD_B_IND, _LD_H_IND = 0x20, 0x30, 0x28, 0x50, 0x48
_LDX_B_MSH, _JEQ_K, _JGE_K, _JGT_K, _RET_K = 0xB1, 0x15, 0x35, 0x25, 0x06
_NET = 0xFFF00000  # SKF_NET_OFF: offsets from the network header, whatever the link layer
_PKTTYPE = 0xFFFFF000 + 4  # SKF_AD_OFF + SKF_AD_PKTTYPE
_PACKET_OUTGOING = 4
_ACCEPT, _DROP = 0x40000, 0


def _incoming_only(program: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """`program` behind a check that drops the copies of frames this namespace sends.

    A packet socket also sees every outgoing frame: the worker's own probes and, in a full
    mesh, this namespace's answers to every other worker, one recv() each for nothing.
    Jump offsets are relative, so the program needs no renumbering.
    """
    return [
        (_LD_W_ABS, 0, 0, _PKTTYPE),
        (_JEQ_K, 0, 1, _PACKET_OUTGOING),
        (_RET_K, 0, 0, _DROP),
        *program,
    ]


def reply_filter_v4(port_lo: int, port_hi: int) -> list[tuple[int, int, int, int]]:
    """IPv4 frames that can answer our probes: ICMP but echo requests, TCP/UDP to our ports.

    Each namespace also receives the other workers' probes; without this, scapy dissects
    all of them (half the worker's receive CPU in a full mesh).
    """
    return _incoming_only([
        (_LD_B_ABS, 0, 0, _NET + 9),  # 0: protocol
        (_JEQ_K, 3, 0, 1),  # 1: ICMP -> 5
        (_JEQ_K, 6, 0, 6),  # 2: TCP -> 9
        (_JEQ_K, 5, 0, 17),  # 3: UDP -> 9
        (_RET_K, 0, 0, _DROP),  # 4
        (_LDX_B_MSH, 0, 0, _NET + 0),  # 5: X = IP header length
        (_LD_B_IND, 0, 0, _NET + 0),  # 6: ICMP type
        (_JEQ_K, 0, 5, 8),  # 7: echo request -> drop, else accept (13)
        (_RET_K, 0, 0, _DROP),  # 8
        (_LDX_B_MSH, 0, 0, _NET + 0),  # 9
        (_LD_H_IND, 0, 0, _NET + 2),  # 10: destination port
        (_JGE_K, 0, 2, port_lo),  # 11: below -> drop (14)
        (_JGT_K, 1, 0, port_hi),  # 12: above -> drop (14)
        (_RET_K, 0, 0, _ACCEPT),  # 13
        (_RET_K, 0, 0, _DROP),  # 14
    ])


def reply_filter_v6(port_lo: int, port_hi: int) -> list[tuple[int, int, int, int]]:
    """IPv6 twin of reply_filter_v4 (no extension headers: those are let through)."""
    return _incoming_only([
        (_LD_B_ABS, 0, 0, _NET + 6),  # 0: next header
        (_JEQ_K, 3, 0, 58),  # 1: ICMPv6 -> 5
        (_JEQ_K, 5, 0, 6),  # 2: TCP -> 8
        (_JEQ_K, 4, 0, 17),  # 3: UDP -> 8
        (_RET_K, 0, 0, _ACCEPT),  # 4: extension header or other: let scapy decide
        (_LD_B_ABS, 0, 0, _NET + 40),  # 5: ICMPv6 type
        (_JEQ_K, 5, 0, 128),  # 6: echo request -> drop (12)
        (_RET_K, 0, 0, _ACCEPT),  # 7
        (_LD_H_ABS, 0, 0, _NET + 42),  # 8: destination port
        (_JGE_K, 0, 2, port_lo),  # 9: below -> drop (12)
        (_JGT_K, 1, 0, port_hi),  # 10: above -> drop (12)
        (_RET_K, 0, 0, _ACCEPT),  # 11
        (_RET_K, 0, 0, _DROP),  # 12
    ])


# Ethernet frames answering ARP/NDP: ARP replies, ICMPv6 neighbour advertisements.
NEIGHBOUR_FILTER: list[tuple[int, int, int, int]] = _incoming_only([
    (_LD_H_ABS, 0, 0, 12),  # 0: ethertype
    (_JEQ_K, 0, 2, 0x0806),  # 1: ARP? else -> 4
    (_LD_H_ABS, 0, 0, 20),  # 2: ARP op
    (_JEQ_K, 5, 6, 2),  # 3: reply -> accept (9), else drop (10)
    (_JEQ_K, 0, 5, 0x86DD),  # 4: IPv6? else drop (10)
    (_LD_B_ABS, 0, 0, 20),  # 5: next header
    (_JEQ_K, 0, 3, 58),  # 6: ICMPv6? else drop (10)
    (_LD_B_ABS, 0, 0, 54),  # 7: ICMPv6 type
    (_JEQ_K, 0, 1, 136),  # 8: neighbour advertisement -> accept, else drop
    (_RET_K, 0, 0, _ACCEPT),  # 9
    (_RET_K, 0, 0, _DROP),  # 10
])


def l3_socket(
    v6: bool, errors: SendErrors, ports: tuple[int, int] | None = None,
    *, source: IPAddress | None = None,
) -> Any:
    """A raw L3 socket: the kernel routes and resolves neighbours; sendto() errors recorded.

    `source`: bind the sending socket to that address. A raw socket's route lookup uses the
    bound address (raw_sendmsg/rawv6_sendmsg take it as the flow's source), so source
    policy rules apply as for an application bound there, and bind() fails with
    EADDRNOTAVAIL when the namespace does not hold the address.
    """
    base = L3RawSocket6 if v6 else L3RawSocket

    class RecordingL3(base):  # type: ignore[valid-type,misc]
        def send(self, x: Probe) -> int:
            x.sent_time = time.time()
            try:
                return int(self.outs.sendto(x.data, (x.dst, 0)))
            except OSError as exc:
                errors.record(x, exc)
                return 0

    # iface=None: receive on every interface, as replies may come back another way than
    # the probe left (and local targets answer on lo).
    sock = RecordingL3()
    if source is not None:
        try:
            sock.outs.bind((str(source), 0, 0, 0) if v6 else (str(source), 0))
        except OSError:
            sock.close()
            raise
    _big_rcvbuf(sock.ins)
    if ports is not None:
        program = reply_filter_v6(*ports) if v6 else reply_filter_v4(*ports)
        if attach_filter(sock.ins, program):
            _drain(sock.ins)
    return sock


def l2_socket(ifname: str, errors: SendErrors) -> Any:
    """An AF_PACKET socket on one interface, for ARP/NDP."""
    base = conf.L2socket

    class RecordingL2(base):  # type: ignore[valid-type,misc]
        def send(self, x: Probe) -> int:
            pkt = x.packet()
            try:
                return int(super().send(pkt))
            except OSError as exc:
                pkt.sent_time = time.time()
                errors.record(x, exc)
                return 0
            finally:
                x.sent_time = getattr(pkt, "sent_time", None)

    sock = RecordingL2(iface=ifname)
    _big_rcvbuf(sock.ins)
    if attach_filter(sock.ins, NEIGHBOUR_FILTER):
        _drain(sock.ins)
    return sock


# --- the exchange ------------------------------------------------------------------------------


class _Matcher:
    """Which sent probe a reply answers: the fast path's key, else scapy's matching.

    Scapy's table (`hashret()` buckets of the probes) is built on the first reply the fast
    path does not know, so a batch of plain echoes never dissects a probe.
    """

    __slots__ = ("_fast", "_probes", "_waiting")

    def __init__(self, probes: Sequence[Probe]) -> None:
        self._probes = probes
        self._fast = {p.echo_key: p for p in probes if p.echo_key is not None}
        self._waiting: dict[bytes, list[Probe]] | None = None

    def find(self, reply: Reply, answered: Container[int] = ()) -> Probe | None:
        """The probe `reply` answers; scapy's candidates whose id is in `answered` are passed
        over (the next candidate may be the one). A fast key names its probe outright."""
        if reply.echo_key is not None:
            probe = self._fast.get(reply.echo_key)
            if probe is not None:
                return probe
        pkt = reply.packet()
        if pkt is None:
            return None
        if self._waiting is None:
            self._waiting = {}
            for p in self._probes:
                self._waiting.setdefault(p.hashret(), []).append(p)
        for cand in self._waiting.get(pkt.hashret(), ()):
            if id(cand) not in answered and pkt.answers(cand.packet()):
                return cand
        return None


def exchange(sock: Any, probes: Sequence[Probe], timeout: float, *, multi: bool) -> Exchange:
    """Send all `probes` on `sock`, then match replies until `timeout` after the last send.

    `multi`: keep every answer of a probe (ARP: several MACs may answer), and always wait
    the whole timeout; otherwise a probe is done at its first answer and the batch ends
    early once every probe is answered.
    """
    out = Exchange()
    matcher = _Matcher(probes)
    # Without `multi` a probe answered already is passed over by scapy's matching.
    answered: Container[int] = () if multi else out.answers
    started = time.time()
    for p in probes:
        sock.send(p)
    last_sent = time.time()
    out.send_s = last_sent - started
    deadline = last_sent + timeout
    open_count = len(probes)

    def record(probe: Probe, reply: Reply) -> None:
        nonlocal open_count
        answers = out.answers.get(id(probe))
        if answers is None:
            out.answers[id(probe)] = [reply]
            open_count -= 1
        elif multi:
            answers.append(reply)

    def match(reply: Reply) -> None:
        probe = matcher.find(reply, answered)
        if probe is not None:
            record(probe, reply)

    raw_l3 = isinstance(sock, L3RawSocket)

    def receive() -> Reply | None:
        out.frames += 1
        if raw_l3:
            return recv_reply(sock, _MTU)
        pkt = sock.recv()
        return None if pkt is None else Reply.of(pkt)

    fd = sock.ins
    for _ in range(_MAX_READS):
        remain = deadline - time.time()
        if remain <= 0 or (not multi and open_count <= 0):
            break
        if not select.select([fd], [], [], remain)[0]:
            break
        reply = receive()
        if reply is not None:
            match(reply)
    # Replies already queued when the deadline struck count if they arrived in time.
    for _ in range(_MAX_READS):
        if not select.select([fd], [], [], 0)[0]:
            break
        reply = receive()
        if reply is not None and (reply.time or 0.0) <= deadline:
            match(reply)
    return out


def apply_actions(neigh: NeighSocket, actions: Sequence[Action]) -> None:
    """Carry out a pacer's requests on this namespace's neighbour table."""
    for action in actions:
        if action.op == "delete":
            neigh.delete(action.entry)
        elif action.op == "permanent":
            neigh.set_state(action.entry, NUD_PERMANENT)
        else:
            neigh.set_state(action.entry, NUD_FAILED)


def exchange_paced(
    sock: Any, probes: Sequence[Probe], timeout: float, pacer: NeighbourPacer,
    neigh: NeighSocket, poll_s: float = _TOKEN_POLL_S,
) -> Exchange:
    """`exchange` for one reply per probe, sending as the neighbour table has room.

    Each probe waits `timeout` from its own send time, and waits overlap: the batch ends
    `timeout` after its last send at the latest, however many rounds the pacer made.
    """
    out = Exchange()
    matcher = _Matcher(probes)
    deadlines: dict[int, float] = {}  # id(probe) -> its send time + timeout
    order: deque[tuple[float, int]] = deque()  # (deadline, id(probe)) still open, in order
    started = time.time()
    last_sent = started
    fd, nfd = sock.ins, neigh.fileno()

    def send_due(now: float) -> None:
        nonlocal last_sent
        for i in pacer.due(now):
            p = probes[i]
            sock.send(p)
            last_sent = p.sent_time or time.time()
            pacer.sent(i, last_sent)
            deadlines[id(p)] = last_sent + timeout
            order.append((last_sent + timeout, id(p)))
        apply_actions(neigh, pacer.after_send())

    def match(reply: Reply) -> None:
        probe = matcher.find(reply, out.answers)
        if probe is None:
            return
        due = deadlines.get(id(probe))
        if due is None or id(probe) in out.answers or (reply.time or 0.0) > due:
            return  # never sent, answered already, or too late
        out.answers[id(probe)] = [reply]

    def receive() -> None:
        out.frames += 1
        reply = recv_reply(sock, _MTU)  # an L3 raw socket (v4, or v6: a subclass)
        if reply is not None:
            match(reply)

    try:
        send_due(time.time())
        for _ in range(_MAX_READS * 10):
            now = time.time()
            # Sent in time order, so deadlines ascend: the front is the next to expire.
            while order and (order[0][1] in out.answers or order[0][0] < now):
                order.popleft()
            if pacer.all_sent and not order:
                break
            wakes = [order[0][0]] if order else []
            lead = pacer.next_wake()
            if lead is not None:
                wakes.append(lead)
            if pacer.starved:  # tokens freed by other workers are only seen by asking
                wakes.append(now + poll_s)
            wait = max(0.0, min(wakes) - now) if wakes else poll_s
            ready = select.select([fd, nfd], [], [], wait)[0]
            # Events before deadlines: a lead resolved while this worker waited for a CPU
            # is resolved, not failed.
            if nfd in ready:
                events = neigh.dump() if neigh.lost else neigh.read()
                apply_actions(neigh, pacer.on_entries(events))
            if fd in ready:
                for _ in range(256):  # what is queued now, then the table again
                    receive()
                    if not select.select([fd], [], [], 0)[0]:
                        break
            now = time.time()
            apply_actions(neigh, pacer.on_time(now))
            send_due(now)
        # Replies already queued when their deadline struck count if they came in time.
        for _ in range(_MAX_READS):
            if not select.select([fd], [], [], 0)[0]:
                break
            receive()
    finally:
        pacer.close()
    out.send_s = last_sent - started
    return out
