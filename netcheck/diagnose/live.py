"""Read live network state of a built topology's namespaces: netlink, procfs. Cached per run."""

from __future__ import annotations

import errno as errno_mod
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcheck.diagnose import counters
from netcheck.diagnose.nsread import read_sysctls
from netcheck.diagnose.tracefs import Drop, DropRecorder, Window
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.results import ProbeResult
from netcheck.nsenter import netlink_fd

if TYPE_CHECKING:
    from netcheck.probes.base import ProbeTask

log = logging.getLogger(__name__)

# Send more probes from a rule (e.g. a DF size search): tasks -> results, in task order.
ReprobeFn = Callable[["Sequence[ProbeTask]", float], list[ProbeResult]]

# The path walk's re-send (see resend): how long the probe waits for its answer, and the
# control wait before it. A lab's veths answer in microseconds; each walked probe costs both.
RESEND_TIMEOUT = 0.3
CONTROL_WAIT = 0.2

_NUD = {
    0x01: "INCOMPLETE",
    0x02: "REACHABLE",
    0x04: "STALE",
    0x08: "DELAY",
    0x10: "PROBE",
    0x20: "FAILED",
    0x40: "NOARP",
    0x80: "PERMANENT",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkInfo:
    ifname: str
    index: int
    kind: str | None
    mode: str | None
    link_index: int | None  # the parent's ifindex (macvlan/ipvlan/veth peer), in its own netns
    operstate: str
    carrier: bool
    mtu: int
    mac: str | None
    admin_up: bool = True  # IFF_UP: `ip link set up` (operstate says whether it works)


@dataclass(frozen=True, slots=True, kw_only=True)
class VxlanInfo:
    """A VXLAN device's attributes as the kernel reports them (IFLA_VXLAN_*)."""

    ifname: str
    vni: int | None
    port: int | None  # UDP destination port; the kernel listens on the same one
    remote: str | None  # IFLA_VXLAN_GROUP(6): the unicast remote (or a multicast group)
    local: str | None
    dev: str | None  # the underlay device (IFLA_VXLAN_LINK), by name
    master: str | None  # the bridge it is a port of, by name
    mtu: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteAnswer:
    """The kernel's answer to a route lookup: the route, or the error it gave."""

    text: str  # one line, for evidence
    errno: int = 0  # 0: a route was found
    oif: int | None = None
    gateway: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resent:
    """One probe sent again on its own, and what the kernel said meanwhile: the counters
    that grew in each namespace asked about, and the drops the tracepoint saw."""

    result: ProbeResult | None  # None: it could not be sent again (see problems)
    deltas: dict[str, dict[str, int]]  # netns -> counters that grew (a readable namespace)
    drops: tuple[Drop, ...] = ()
    traced: bool = False  # the drop tracepoint was recording
    problems: tuple[str, ...] = ()
    # netns -> counters that grew over a wait just before, with nothing sent: that
    # namespace has traffic of its own (a listener's retransmits, multicast), and its
    # deltas above are no evidence about this packet.
    noise: dict[str, dict[str, int]] = field(default_factory=dict)


class LiveState:
    """Lazy, cached reads of the namespaces a run built. Never creates a namespace.

    `window` holds what the kernel said while the probes ran (drops, counters, log);
    `reprobe` lets a rule send more probes (e.g. a DF size search) with `timeout`.
    """

    def __init__(
        self,
        window: ProbeWindow | None = None,
        *,
        timeout: float = 1.0,
        reprobe: ReprobeFn | None = None,
    ) -> None:
        self._links: dict[str, list[LinkInfo]] = {}
        self._sockets: dict[str, IPRoute] = {}
        self.window = window or ProbeWindow()
        self.timeout = timeout
        # Reads that a diagnosis repeats for every silent probe are kept for the run: routes
        # (nothing changes them while it is diagnosed), neighbour tables and iptables counts
        # (until a probe is sent again: a re-send moves both, so it empties those caches).
        self._routes: dict[tuple[str, str, str | None, str | None], RouteAnswer] = {}
        self._neigh: dict[str, dict[str, tuple[str, str | None]]] = {}
        self._tables: dict[tuple[str, str], list[str]] = {}
        self.reprobe = None if reprobe is None else self._forgetting_neighbours(reprobe)
        # The re-sends' trace instance: the run's (the probe window's), else one made by the
        # first re-send and removed by `close`. Either way its events are switched on once.
        self._trace = self.window.trace
        self._own_trace: DropRecorder | None = None

    def _forgetting_neighbours(self, reprobe: ReprobeFn) -> ReprobeFn:
        def sent_again(tasks: Sequence[ProbeTask], timeout: float) -> list[ProbeResult]:
            self._forget_moving()
            try:
                return reprobe(tasks, timeout)
            finally:
                self._forget_moving()
        return sent_again

    def _forget_moving(self) -> None:
        self._neigh.clear()
        self._tables.clear()

    def _netlink(self, netns: str) -> AbstractContextManager[IPRoute]:
        """This run's one netlink socket into `netns`, opened on first use (not closed by
        the `with`: `close` does that once the diagnosis is done). Raises OSError when the
        namespace cannot be entered."""
        if netns not in self._sockets:
            self._sockets[netns] = IPRoute(fileno=netlink_fd(netns))
        return nullcontext(self._sockets[netns])

    def close(self) -> None:
        if self._own_trace is not None:
            self._own_trace.close()
        for ipr in self._sockets.values():
            try:
                ipr.close()
            except OSError as exc:
                log.debug("closing a netlink socket: %s", exc)
        self._sockets.clear()

    def links(self, netns: str) -> list[LinkInfo]:
        if netns not in self._links:
            self._links[netns] = self._read_links(netns)
        return self._links[netns]

    def link(self, netns: str, ifname: str) -> LinkInfo | None:
        return next((li for li in self.links(netns) if li.ifname == ifname), None)

    def neighbour_state(self, netns: str, address: str) -> str | None:
        entry = self.neighbours(netns).get(address)
        return None if entry is None else entry[0]

    def route_lookup(
        self, netns: str, dst: str, *, src: str | None = None, iif: str | None = None
    ) -> RouteAnswer:
        """`ip route get DST [from SRC] [iif DEV]`: with `iif`, the kernel judges a packet
        arriving on DEV, reverse-path filter included (strict rp_filter answers EXDEV)."""
        key = (netns, dst, src, iif)
        if key not in self._routes:
            self._routes[key] = self._route_get(netns, dst, src=src, iif=iif)
        return self._routes[key]

    def _route_get(
        self, netns: str, dst: str, *, src: str | None, iif: str | None
    ) -> RouteAnswer:
        kwargs: dict[str, Any] = {"dst": dst}
        words = f"route get {dst}"
        if src:
            kwargs["src"] = src
            words += f" from {src}"
        # The names come from this run's one read of the namespace's links (they do not
        # change while it is diagnosed): a dump per lookup cost more than the lookup.
        names = {li.index: li.ifname for li in self.links(netns)}
        if iif:
            found = [index for index, name in names.items() if name == iif]
            if not found:
                return RouteAnswer(text=f"{words} iif {iif}: no such device", errno=19)
            kwargs["iif"] = found[0]
            words += f" iif {iif}"
        try:
            with self._netlink(netns) as ipr:
                routes = ipr.route("get", **kwargs)
        except NetlinkError as exc:
            name = errno_mod.errorcode.get(exc.code, str(exc.code))
            return RouteAnswer(
                text=f"{words}: error {name} ({os.strerror(exc.code)})", errno=exc.code
            )
        except OSError as exc:
            return RouteAnswer(text=f"{words}: {exc}", errno=exc.errno or -1)
        if not routes:
            return RouteAnswer(text=f"{words}: no answer", errno=-1)
        r = routes[0]
        via = r.get_attr("RTA_GATEWAY")
        oif = r.get_attr("RTA_OIF")
        pref = r.get_attr("RTA_PREFSRC")
        text = (
            f"{words}: {dst}" + (f" via {via}" if via else "")
            + (f" dev {names.get(oif, oif)}" if oif is not None else "")
            + (f" src {pref}" if pref else "")
        )
        return RouteAnswer(text=text, oif=oif, gateway=via)

    def ifname(self, netns: str, index: int | None) -> str | None:
        if index is None:
            return None
        return next((li.ifname for li in self.links(netns) if li.index == index), None)

    def sysctl(self, netns: str, key: str) -> str | None:
        """Read a sysctl (`net.ipv4.ip_forward`, `net.ipv4.conf.bond0/51.rp_filter`) as seen
        from inside `netns` (net sysctls are per namespace)."""
        return read_sysctls(netns, [key])[key]

    def sysctls(self, netns: str, keys: list[str]) -> dict[str, str | None]:
        return read_sysctls(netns, keys)

    def conf_effective(self, netns: str, ifname: str, name: str) -> tuple[int | None, str]:
        """The value the kernel applies for conf/<if>/<name> when it is max(all, <if>)
        (rp_filter, log_martians, arp_ignore...), and a line saying how it got there."""
        dev = ifname.replace(".", "/")
        got = read_sysctls(netns, [f"net.ipv4.conf.all.{name}", f"net.ipv4.conf.{dev}.{name}"])
        raw_all = got[f"net.ipv4.conf.all.{name}"]
        raw_if = got[f"net.ipv4.conf.{dev}.{name}"]
        if raw_all is None or raw_if is None:
            return None, f"net.ipv4.conf.{{all,{ifname}}}.{name}: unreadable"
        value = max(int(raw_all), int(raw_if))
        return value, (
            f"{name} on {ifname}: effective {value} = max(conf/all {raw_all}, "
            f"conf/{ifname} {raw_if})"
        )

    def neighbours(self, netns: str) -> dict[str, tuple[str, str | None]]:
        """address -> (NUD state, MAC) of the neighbour table."""
        if netns in self._neigh:
            return self._neigh[netns]
        out = self._neigh[netns] = {}
        try:
            with self._netlink(netns) as ipr:
                for msg in ipr.get_neighbours():
                    dst = msg.get_attr("NDA_DST")
                    state = int(msg["state"])
                    text = "|".join(n for bit, n in _NUD.items() if state & bit) or str(state)
                    out[str(dst)] = (text, msg.get_attr("NDA_LLADDR"))
        except (OSError, NetlinkError) as exc:
            log.debug("neighbours of %s: %s", netns, exc)
        return out

    def routes_via(self, netns: str, ifnames: list[str]) -> list[str]:
        """Destinations (`dst/len`) of the main table's routes out of these interfaces."""
        indexes = {li.index for li in self.links(netns) if li.ifname in ifnames}
        out: list[str] = []
        try:
            with self._netlink(netns) as ipr:
                for msg in ipr.get_routes(table=254):
                    if msg.get_attr("RTA_OIF") not in indexes:
                        continue
                    dst = msg.get_attr("RTA_DST")
                    if dst is not None:
                        out.append(f"{dst}/{msg['dst_len']}")
        except (OSError, NetlinkError) as exc:
            log.debug("routes of %s: %s", netns, exc)
        return out

    def routes(self, netns: str, family: int = 4) -> list[str]:
        """The main table as `ip route` prints it: `default via GW dev IF`, `DST/LEN dev IF
        scope link`, one line each (family 4 or 6)."""
        names = {li.index: li.ifname for li in self.links(netns)}
        out: list[str] = []
        try:
            with self._netlink(netns) as ipr:
                af = socket.AF_INET if family == 4 else socket.AF_INET6
                for msg in ipr.get_routes(family=af, table=254):
                    dst = msg.get_attr("RTA_DST")
                    words = [f"{dst}/{msg['dst_len']}" if dst is not None else "default"]
                    via = msg.get_attr("RTA_GATEWAY")
                    if via:
                        words.append(f"via {via}")
                    oif = msg.get_attr("RTA_OIF")
                    if oif is not None:
                        words.append(f"dev {names.get(oif, oif)}")
                    pref = msg.get_attr("RTA_PREFSRC")
                    if pref:
                        words.append(f"src {pref}")
                    out.append(" ".join(words))
        except (OSError, NetlinkError) as exc:
            log.debug("routes of %s: %s", netns, exc)
        return out

    def hairpin(self, netns: str, ifindex: int) -> bool | None:
        """The bridge port's hairpin flag (IFLA_BRPORT_MODE): may a frame leave by the
        port it came in on? None when `ifindex` is no bridge port or unreadable."""
        try:
            with self._netlink(netns) as ipr:
                # Only an AF_BRIDGE dump carries the port's flags (a get does not).
                for msg in ipr.get_links(family=socket.AF_BRIDGE):
                    if int(msg["index"]) != ifindex:
                        continue
                    info = msg.get_attr("IFLA_PROTINFO")
                    if info is not None:
                        mode = info.get_attr("IFLA_BRPORT_MODE")
                        return None if mode is None else bool(mode)
        except (OSError, NetlinkError) as exc:
            log.debug("bridge port %s in %s: %s", ifindex, netns, exc)
        return None

    def resend(self, run_id: str, task: ProbeTask, namespaces: Sequence[str]) -> Resent:
        """Send `task` again, alone, and read what moved in `namespaces` meanwhile: with
        nothing else in flight, a counter delta there is this packet's doing."""
        if self.reprobe is None:
            return Resent(result=None, deltas={}, problems=("this run cannot re-send probes",))
        problems: list[str] = []
        wait = min(self.timeout, RESEND_TIMEOUT)
        control: dict[str, dict[str, int]] = {}
        for path in namespaces:
            got = counters.read(path)
            if got:
                control[path] = got
        time.sleep(CONTROL_WAIT)  # the control window: nothing sent
        before: dict[str, dict[str, int]] = {}
        noise: dict[str, dict[str, int]] = {}
        for path, was in control.items():
            got = counters.read(path)
            if got:
                before[path] = got
                moved = counters.delta(was, got)
                if moved:
                    noise[path] = moved
        recorder = self._trace
        if recorder is None:
            recorder = self._trace = self._own_trace = DropRecorder(run_id)
        drops: list[Drop] = []
        traced = False
        # One try from the start: a Ctrl-C landing between begin() and the re-send must
        # still stop the recording (the instance itself goes with the run or `close`).
        try:
            traced = recorder.begin(Window.RESEND)
            if recorder.problem:
                problems.append(recorder.problem)
            # The kernel counts and drops within microseconds on a lab's veths; the wait
            # is only for an answer, which a silent probe does not get anyway.
            results = self.reprobe([task], wait)
        finally:
            if traced:
                drops = recorder.end()
                if recorder.problem:
                    problems.append(recorder.problem)
        deltas = {}
        for path, was in before.items():
            now = counters.read(path)
            if now:
                deltas[path] = counters.delta(was, now)
        return Resent(result=results[0] if results else None, deltas=deltas,
                      drops=tuple(drops), traced=traced, problems=tuple(problems),
                      noise=noise)

    def vxlans(self, netns: str) -> list[VxlanInfo]:
        """The VXLAN devices of `netns` with their id, port, remote, local, dev and master."""
        out: list[VxlanInfo] = []
        try:
            with IPRoute(netns=netns, flags=0) as ipr:
                msgs = list(ipr.get_links())
        except (OSError, NetlinkError) as exc:
            log.debug("vxlan links of %s: %s", netns, exc)
            return out
        names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in msgs}
        for msg in msgs:
            info = msg.get_attr("IFLA_LINKINFO")
            if info is None or info.get_attr("IFLA_INFO_KIND") != "vxlan":
                continue
            data = info.get_attr("IFLA_INFO_DATA")

            def attr(name: str, data: Any = data) -> Any:
                return None if data is None else data.get_attr(name)

            link, master = attr("IFLA_VXLAN_LINK"), msg.get_attr("IFLA_MASTER")
            remote = attr("IFLA_VXLAN_GROUP") or attr("IFLA_VXLAN_GROUP6")
            local = attr("IFLA_VXLAN_LOCAL") or attr("IFLA_VXLAN_LOCAL6")
            vni, port = attr("IFLA_VXLAN_ID"), attr("IFLA_VXLAN_PORT")
            out.append(VxlanInfo(
                ifname=names[int(msg["index"])],
                vni=None if vni is None else int(vni),
                port=None if port is None else int(port),
                remote=None if remote is None else str(remote),
                local=None if local is None else str(local),
                dev=names.get(int(link)) if link else None,
                master=names.get(int(master)) if master else None,
                mtu=int(msg.get_attr("IFLA_MTU") or 0),
            ))
        return out

    def iptables(self, netns: str, chain: str) -> list[str]:
        """`iptables -L CHAIN -n -v -x` lines inside `netns` (packet counts per rule), read
        once per namespace and chain until a probe is sent again (its counts move then)."""
        key = (netns, chain)
        if key not in self._tables:
            self._tables[key] = self._iptables(netns, chain)
        return self._tables[key]

    def _iptables(self, netns: str, chain: str) -> list[str]:
        try:
            out = subprocess.run(
                ["nsenter", f"--net={netns}", "--", "iptables", "-w", "5", "-L", chain,
                 "-n", "-v", "-x"],
                capture_output=True, text=True, timeout=10, check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("iptables in %s: %s", netns, exc)
            return []
        return out.stdout.splitlines()

    def _read_links(self, netns: str) -> list[LinkInfo]:
        out: list[LinkInfo] = []
        try:
            with self._netlink(netns) as ipr:
                for msg in ipr.get_links():
                    info = msg.get_attr("IFLA_LINKINFO")
                    kind = info.get_attr("IFLA_INFO_KIND") if info else None
                    mode = None
                    if info is not None and kind in ("macvlan", "macvtap", "ipvlan"):
                        data = info.get_attr("IFLA_INFO_DATA")
                        if data is not None:
                            raw = data.get_attr("IFLA_MACVLAN_MODE") or data.get_attr(
                                "IFLA_IPVLAN_MODE"
                            )
                            mode = None if raw is None else str(raw)
                    out.append(
                        LinkInfo(
                            ifname=msg.get_attr("IFLA_IFNAME"),
                            index=int(msg["index"]),
                            kind=kind,
                            mode=mode,
                            link_index=msg.get_attr("IFLA_LINK"),
                            operstate=str(msg.get_attr("IFLA_OPERSTATE")),
                            carrier=bool(msg.get_attr("IFLA_CARRIER")),
                            mtu=int(msg.get_attr("IFLA_MTU") or 0),
                            mac=msg.get_attr("IFLA_ADDRESS"),
                            admin_up=bool(int(msg["flags"]) & 1),
                        )
                    )
        except (OSError, NetlinkError) as exc:
            log.debug("links of %s: %s", netns, exc)
        return out
