"""Parsers for the lab's node features: sysctls, routes, firewall rules, link state.

The words are the ones operators already type: `sysctl` keys (`net.ipv4.conf.eth1.rp_filter`,
with `/` standing for a dot inside an interface name, as sysctl(8) writes it), `ip route`
fields, and firewall rules read like a sentence: `drop: tcp/5432 from c1`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from netcheck.model.plan import FirewallAction, FirewallRule, ProbeKind, Route
from netcheck.scenario.values import (
    ValueProblem,
    describe,
    parse_ifname,
    parse_ip,
    port_number,
    port_words,
)

# The sysctls a lab node may set: the network ones (they are per namespace). Anything else
# would change the machine running netcheck, not the lab.
_SYSCTL_KEY = re.compile(r"^net\.(ipv4|ipv6|core|netfilter|bridge)\.[A-Za-z0-9_./-]+$")
LINK_STATES = ("up", "down", "no-carrier")
CHAINS = ("input", "forward", "output")
_FW_PROTOS = {"tcp": ProbeKind.TCP, "udp": ProbeKind.UDP, "icmp": ProbeKind.ICMP, "all": None}


def _escapes(key: str) -> bool:
    """True when the key's /proc/sys path would leave net/: `net.ipv4.//.//.kernel.x` is
    net/ipv4/../../kernel/x (each '/' becomes '.'), i.e. any sysctl of the machine."""
    return any(part.replace("/", ".") in ("", ".", "..") for part in key.split("."))


def parse_sysctls(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueProblem(
            f"expected a mapping of sysctl keys to values, got {describe(value)}",
            "Write e.g. sysctls: {net.ipv4.conf.all.rp_filter: 1}",
        )
    out: dict[str, str] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not _SYSCTL_KEY.match(key) or _escapes(key):
            raise ValueProblem(
                f"{describe(key)} is not a network sysctl key",
                "Lab nodes take net.* keys, e.g. net.ipv4.conf.eth1.rp_filter "
                "(a dot inside an interface name is written '/': net.ipv4.conf.bond0/51.rp_filter)",
            )
        if isinstance(raw, bool):
            text = "1" if raw else "0"
        elif isinstance(raw, int | float | str):
            text = str(raw)
        else:
            raise ValueProblem(f"sysctl {key}: expected a value, got {describe(raw)}")
        out[key] = text
    return out


def parse_route(value: object) -> Route:
    if isinstance(value, str):
        value = _route_words(value)
    if not isinstance(value, Mapping):
        raise ValueProblem(
            f"expected a route, got {describe(value)}",
            "Write {dst: 10.0.0.0/24, via: 192.168.1.1} or 'default via 192.168.1.1'",
        )
    unknown = set(value) - {"dst", "via", "dev", "src", "onlink"}
    if unknown:
        raise ValueProblem(
            f"a route has no field {describe(sorted(unknown)[0])}",
            "Use dst, via, dev, src and onlink",
        )
    dst_raw = value.get("dst")
    if dst_raw is None:
        raise ValueProblem("a route needs dst (a subnet, or 'default')")
    via = parse_ip(value["via"]) if value.get("via") is not None else None
    dev = parse_ifname(value["dev"]) if value.get("dev") is not None else None
    if via is None and dev is None:
        raise ValueProblem(f"route to {dst_raw} needs via or dev")
    if dst_raw == "default":
        version = via.version if via is not None else 4
        dst = ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")
    else:
        if not isinstance(dst_raw, str):
            raise ValueProblem(f"route dst: expected a subnet, got {describe(dst_raw)}")
        try:
            dst = ipaddress.ip_network(dst_raw.strip(), strict=True)
        except ValueError as exc:
            raise ValueProblem(f"route dst {describe(dst_raw)} is not a subnet: {exc}") from exc
    if via is not None and via.version != dst.version:
        raise ValueProblem(f"route to {dst}: via {via} is not of the same IP version")
    src = parse_ip(value["src"]) if value.get("src") is not None else None
    if src is not None and src.version != dst.version:
        raise ValueProblem(f"route to {dst}: src {src} is not of the same IP version")
    onlink = value.get("onlink", False)
    if not isinstance(onlink, bool):
        raise ValueProblem(f"route onlink: expected true or false, got {describe(onlink)}")
    if onlink and (via is None or dev is None):
        raise ValueProblem(f"route to {dst}: onlink needs via and dev",
                           "Write e.g. 'default via 192.168.9.1 dev eth0 onlink'")
    return Route(dst=dst, via=via, dev=dev, src=src, onlink=onlink)


def _route_words(text: str) -> dict[str, Any]:
    words = text.split()
    if not words:
        raise ValueProblem("an empty route")
    out: dict[str, Any] = {"dst": words[0]}
    rest = words[1:]
    while rest:
        if rest[0] == "onlink":
            out["onlink"] = True
            rest = rest[1:]
            continue
        if len(rest) < 2 or rest[0] not in ("via", "dev", "src"):
            raise ValueProblem(
                f"cannot read route {describe(text)}",
                "Write 'DST via ADDRESS [dev IF] [src ADDRESS] [onlink]' or 'DST dev IF'",
            )
        out[rest[0]] = rest[1]
        rest = rest[2:]
    return out


def parse_firewall_rule(value: object) -> FirewallRule:
    """`{drop: "tcp/5432 from c1"}`, `{reject: "udp/53"}`, `{drop: "icmp", chain: forward}`."""
    if not isinstance(value, Mapping):
        raise ValueProblem(
            f"expected a firewall rule, got {describe(value)}",
            "Write e.g. '- drop: tcp/5432 from c1' or '- reject: udp/53'",
        )
    actions = [k for k in value if k in ("drop", "reject")]
    unknown = set(value) - {"drop", "reject", "chain"}
    if unknown or len(actions) != 1:
        raise ValueProblem(
            "a firewall rule has one of drop/reject (and optionally chain)",
            "Write e.g. '- drop: tcp/5432 from c1'",
        )
    action = FirewallAction(actions[0])
    text = value[action.value]
    if not isinstance(text, str):
        text = "all" if text is None else str(text)
    chain = value.get("chain", None)
    words = text.split()
    if not words:
        words = ["all"]
    proto_text, rest = words[0].lower(), words[1:]
    port_text: str | None = None
    found = port_words(proto_text)
    if found is not None and found[1].isdigit():
        proto_text, port_text = found
    if proto_text not in _FW_PROTOS:
        raise ValueProblem(
            f"{describe(words[0])} is not a protocol a rule can match",
            "Use tcp/PORT, udp/PORT, icmp or all",
        )
    proto = _FW_PROTOS[proto_text]
    port = None if port_text is None else port_number(port_text)
    if port is not None and proto not in (ProbeKind.TCP, ProbeKind.UDP):
        raise ValueProblem(f"{proto_text} has no ports")
    peer: str | None = None
    direction: str | None = None
    if rest:
        if len(rest) != 2 or rest[0] not in ("from", "to"):
            raise ValueProblem(
                f"cannot read {describe(text)}", "Write 'PROTO[/PORT] [from NODE|to NODE]'"
            )
        direction, peer = rest
    if chain is None:
        chain = "output" if direction == "to" else "input"
    if chain not in CHAINS:
        raise ValueProblem(f"{describe(chain)} is not a chain", "Use input, forward or output")
    if direction == "to" and chain == "input":
        raise ValueProblem("'to' names a destination: it needs chain output or forward")
    return FirewallRule(action=action, proto=proto, port=port, peer=peer, chain=chain)


def parse_link_state(value: object) -> str:
    if value not in LINK_STATES:
        raise ValueProblem(
            f"{describe(value)} is not a link state", "Use up, down or no-carrier"
        )
    return str(value)
