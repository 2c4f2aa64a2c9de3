"""A LiveState answering from dicts, and a small synthetic topology, for rule unit tests."""

from __future__ import annotations

import ipaddress
from typing import Any

from netcheck.diagnose.live import LinkInfo, LiveState, RouteAnswer
from netcheck.diagnose.window import ProbeWindow
from netcheck.model.plan import Expectation, NodeKind, ProbeSpec, Target
from netcheck.model.results import Interface, Node, Observation, ProbeResult
from netcheck.model.sites import NamespacePath


class StubLive(LiveState):
    """Answers what a test put in; anything else is "unknown" (an error route, no links)."""

    def __init__(self, window: ProbeWindow | None = None) -> None:
        super().__init__(window)
        self.routes: dict[tuple[str, str, str | None, str | None], RouteAnswer] = {}
        self.link_table: dict[str, list[LinkInfo]] = {}
        self.conf: dict[tuple[str, str, str], int] = {}
        self.rules: dict[tuple[str, str], list[str]] = {}

    def route(self, netns: str, dst: str, text: str, *, src: str | None = None,
              iif: str | None = None, errno: int = 0, oif: int | None = None,
              gateway: str | None = None) -> None:
        self.routes[(netns, dst, src, iif)] = RouteAnswer(text=text, errno=errno, oif=oif,
                                                          gateway=gateway)

    def route_lookup(self, netns: str, dst: str, *, src: str | None = None,
                     iif: str | None = None) -> RouteAnswer:
        got = self.routes.get((netns, dst, src, iif))
        if got is None and src is not None and iif is None:
            got = self.routes.get((netns, dst, None, None))
        return got or RouteAnswer(text=f"route get {dst}: not stubbed", errno=-1)

    def links(self, netns: str) -> list[LinkInfo]:
        return self.link_table.get(netns, [])

    def conf_effective(self, netns: str, ifname: str, name: str) -> tuple[int | None, str]:
        value = self.conf.get((netns, ifname, name), 0)
        return value, f"{name} on {ifname}: effective {value}"

    def neighbours(self, netns: str) -> dict[str, tuple[str, str | None]]:
        return {}

    def neighbour_state(self, netns: str, address: str) -> str | None:
        return None

    def iptables(self, netns: str, chain: str) -> list[str]:
        return self.rules.get((netns, chain), [])

    def sysctl(self, netns: str, key: str) -> str | None:
        return None


def link(ifname: str, index: int, *, kind: str | None = None, up: bool = True) -> LinkInfo:
    return LinkInfo(ifname=ifname, index=index, kind=kind, mode=None, link_index=None,
                    operstate="UP" if up else "DOWN", carrier=up, mtu=1500, mac=None)


def node(name: str, *ifaces: tuple[str, str, str, str], kind: NodeKind = NodeKind.MACHINE,
         host: str | None = None, resolver: str | None = None) -> Node:
    """ifaces: (ifname, network, address, prefix)."""
    return Node(
        name=name, kind=kind, site=NamespacePath(path=f"/run/netns/t-{name}"), host=host,
        interfaces=tuple(
            Interface(ifname=i, network=net, address=ipaddress.ip_address(a),
                      prefix=ipaddress.ip_network(p))
            for i, net, a, p in ifaces
        ),
        resolver=None if resolver is None else ipaddress.ip_address(resolver),
    )


def pair(src: str, dst: str, addr: str, probe: ProbeSpec, observation: Observation,
         detail: str = "no answer", **result: Any) -> tuple[Expectation, ProbeResult]:
    exp = Expectation(id=f"{probe}:{src}->{dst}", source=src, target=Target(node=dst),
                      probe=probe, reachable=False)
    res = ProbeResult(probe_id=exp.id, source=src, target=dst,
                      target_address=ipaddress.ip_address(addr), probe=probe,
                      observation=observation, detail=detail, **result)
    return exp, res
