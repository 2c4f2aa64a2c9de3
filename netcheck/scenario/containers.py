"""Docker's per-container details: `dns`, `dns_search`, `depends_on` (start order), `mtu`
and `mac_address`, spelled as `docker run --dns/--dns-search/--mac-address` and Compose's
`depends_on` / per-network `mac_address`. Value parsers for the schema, and the checks that
need the whole scenario (a MAC twice on one network, an MTU above the network's, a
`depends_on` cycle), each naming its line."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from netcheck.model.plan import Attachment, Driver, Endpoint, Lab, MacvlanMode, Network
from netcheck.scenario.paths import Path
from netcheck.scenario.stackvalues import parse_mac
from netcheck.scenario.suggest import hint_for
from netcheck.scenario.values import ValueProblem, describe

# A DNS name as resolv.conf's `search` takes it: dot-separated labels of letters, digits
# and hyphens (no label starts or ends with a hyphen), 253 characters at most.
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DEFAULT_BRIDGE_MTU = 1500  # Docker's, for a bridge network without an mtu

Err = Callable[[Path, str, str | None], None]


def parse_domain(value: object) -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"expected a domain name, got {describe(value)}")
    text = value.strip().rstrip(".")
    if not text or len(text) > 253 or not all(_LABEL.match(p) for p in text.split(".")):
        raise ValueProblem(f"{describe(value)} is not a domain name",
                           "Write a search domain as resolv.conf takes it, e.g. lab.example")
    return text.lower()


def parse_unicast_mac(value: object) -> str:
    """A MAC Docker can give an interface: unicast, not all zeros."""
    mac = parse_mac(value)
    first = int(mac[:2], 16)
    if first & 1:
        raise ValueProblem(f"{mac} is a multicast MAC (the first byte is odd): no interface "
                           "can have it", "Use a locally administered unicast MAC, e.g. "
                           "02:42:0a:33:00:01 (first byte 02, 06, 0a, ...)")
    if mac == "00:00:00:00:00:00":
        raise ValueProblem("00:00:00:00:00:00 is no interface's MAC",
                           "Use a locally administered unicast MAC, e.g. 02:42:0a:33:00:01")
    return mac


def one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


# --- checks that need the whole scenario -------------------------------------------------


def attachment_details(
    att: Attachment, net: Network | None, *, mac: str | None, mtu: int | None,
    mac_path: Path, mtu_path: Path, err: Err, parent_mtu: int | None,
) -> Attachment:
    """The attachment with its MAC and MTU, after the checks Docker or the kernel would
    fail on at build time: ipvlan has no MAC of its own, passthru takes the parent's, and
    an interface above its network's (or parent's) MTU is refused or drops big frames."""
    if net is not None and mac is not None:
        if net.driver is Driver.IPVLAN:
            err(mac_path, f"network '{net.name}' is ipvlan: its interfaces "
                "share the parent's MAC, so a container cannot have one of its own",
                "Remove mac_address, or use a macvlan network")
            mac = None
        elif net.driver is Driver.MACVLAN and net.macvlan_mode is MacvlanMode.PASSTHRU:
            err(mac_path, f"network '{net.name}' is macvlan passthru: the "
                "container takes over the parent and its MAC", "Remove mac_address")
            mac = None
    if net is not None and mtu is not None and not net.external:
        limit, what = _mtu_limit(net, parent_mtu)
        if limit is not None and mtu > limit:
            err(mtu_path, f"mtu {mtu} is larger than the MTU of {what}",
                f"A container's interface cannot usefully exceed its network: use mtu "
                f"{limit} or less, or raise the network's mtu")
            mtu = None
    return replace(att, mac=mac, mtu=mtu)


def _mtu_limit(net: Network, parent_mtu: int | None) -> tuple[int | None, str]:
    if net.driver in (Driver.MACVLAN, Driver.IPVLAN):
        if net.mtu is not None:
            return net.mtu, f"network '{net.name}' ({net.mtu})"
        return parent_mtu, f"the parent {net.parent} of network '{net.name}' ({parent_mtu})"
    if net.mtu is not None:
        return net.mtu, f"network '{net.name}' ({net.mtu})"
    if net.driver is Driver.BRIDGE:
        return DEFAULT_BRIDGE_MTU, f"network '{net.name}' ({DEFAULT_BRIDGE_MTU}, Docker's " \
                                   "default)"
    return None, ""


def parent_mtu(lab: Lab, host: str | None, net: Network) -> int | None:
    """The MTU the file gives a macvlan/ipvlan parent on a lab host (uplink, else LAN)."""
    if host is None or net.parent is None:
        return None
    for h in lab.hosts:
        if h.name != host:
            continue
        for up in h.uplinks:
            if up.ifname == net.parent:
                if up.mtu is not None:
                    return up.mtu
                return next((lan.mtu for lan in lab.lans if lan.name == up.lan), None)
    return None


def check_macs(endpoints: Sequence[Endpoint], networks: Mapping[str, Network],
               paths: Mapping[tuple[str, str], Path], line: Callable[[Path], int],
               err: Err) -> None:
    """One MAC twice on one L2 segment: a network (a bridge network is one segment per
    host; a macvlan network spans its hosts' LAN). `paths`: (endpoint, network) -> where
    its MAC is written (the attachment's mac_address, or the endpoint's)."""
    seen: dict[tuple[str, str | None, str], tuple[str, Path]] = {}
    for ep in endpoints:
        for att in ep.attachments:
            if att.mac is None:
                continue
            path = paths.get((ep.name, att.network), ("endpoints", ep.name))
            net = networks.get(att.network)
            per_host = net is None or net.driver is not Driver.MACVLAN
            key = (att.network, ep.host if per_host else None, att.mac)
            earlier = seen.get(key)
            if earlier is not None:
                err(path, f"MAC {att.mac} is already used on network '{att.network}' by "
                          f"endpoint '{earlier[0]}' (line {line(earlier[1])})",
                    "Two interfaces with one MAC on one L2 segment make the switch flap "
                    "between them: give each its own")
                continue
            seen[key] = (ep.name, path)


def check_depends_on(
    endpoints: Mapping[str, Sequence[str]], others: Mapping[str, str], err: Err
) -> dict[str, tuple[str, ...]]:
    """Each endpoint's known dependencies; unknown names, itself and cycles are errors."""
    out: dict[str, tuple[str, ...]] = {}
    for name, deps in endpoints.items():
        keep: list[str] = []
        for index, dep in enumerate(deps):
            path: Path = ("endpoints", name, "depends_on", index)
            if dep == name:
                err(path, f"endpoint '{name}' depends on itself", "Remove it from depends_on")
            elif dep not in endpoints:
                kind = others.get(dep)
                err(path, f"'{dep}' is a {kind}, not an endpoint" if kind else
                    f"unknown endpoint '{dep}'",
                    "depends_on orders container starts: name endpoints only" if kind else
                    hint_for(dep, endpoints, "endpoints"))
            elif dep not in keep:
                keep.append(dep)
        out[name] = tuple(keep)
    for cycle in _cycles(out):
        first = cycle[0]
        err(("endpoints", first, "depends_on"),
            "depends_on makes a cycle: " + " -> ".join((*cycle, first)),
            "Nothing in a cycle can start first: remove one of its depends_on entries")
        for name in cycle:
            out[name] = ()
    return out


def _cycles(deps: Mapping[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Each cycle once (depth-first search, white/grey/black)."""
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep, 0) == 0:
                visit(dep)
            elif state[dep] == 1:
                found.append(tuple(stack[stack.index(dep):]))
        stack.pop()
        state[node] = 2

    for node in deps:
        if state.get(node, 0) == 0:
            visit(node)
    return found
