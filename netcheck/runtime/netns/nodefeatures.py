"""Lab node features the netns runtime applies: sysctl keys, packet filter rules.

Firewall rules become iptables argument lists run inside the node's namespace with
`nsenter --net=PATH` (no shell); iptables is what operators read, so the evidence a
diagnosis shows (`iptables -S`) is in their words too.
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
from collections.abc import Mapping, Sequence

from netcheck.errors import RuntimeBuildError
from netcheck.model.plan import FirewallAction, FirewallRule, IPAddress, ProbeKind

log = logging.getLogger(__name__)

_CHAINS = {"input": "INPUT", "forward": "FORWARD", "output": "OUTPUT"}


def sysctl_path(key: str) -> str:
    """`net.ipv4.conf.bond0/51.rp_filter` -> `net/ipv4/conf/bond0.51/rp_filter` (sysctl(8)
    writes a dot inside an interface name as '/')."""
    if "/" in key and "." not in key:
        return key  # already a /proc/sys path
    return "/".join(part.replace("/", ".") for part in key.split("."))


def _peers(rule: FirewallRule, addresses: Mapping[str, Sequence[IPAddress]]) -> list[str | None]:
    if rule.peer is None:
        return [None]
    if rule.peer in addresses:
        found = [str(a) for a in addresses[rule.peer] if a.version == 4]
        if not found:
            raise RuntimeBuildError(
                f"netns runtime: firewall rule {rule}: node {rule.peer} has no IPv4 address"
            )
        return list(found)
    return [str(ipaddress.ip_network(rule.peer, strict=False))]


def commands(
    rule: FirewallRule, addresses: Mapping[str, Sequence[IPAddress]]
) -> list[list[str]]:
    """iptables argument lists (one per peer address) for one rule."""
    out: list[list[str]] = []
    for peer in _peers(rule, addresses):
        argv = ["iptables", "-w", "5", "-A", _CHAINS[rule.chain]]
        if rule.proto is not None:
            argv += ["-p", rule.proto.value]
        if rule.port is not None:
            argv += ["--dport", str(rule.port)]
        if peer is not None:
            argv += ["-d" if rule.chain == "output" else "-s", peer]
        if rule.action is FirewallAction.DROP:
            argv += ["-j", "DROP"]
        elif rule.proto is ProbeKind.TCP:
            argv += ["-j", "REJECT", "--reject-with", "tcp-reset"]
        else:
            argv += ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"]
        out.append(argv)
    return out


def run_in(netns: str, argv: Sequence[str]) -> None:
    try:
        subprocess.run(
            ["nsenter", f"--net={netns}", "--", *argv],
            capture_output=True, text=True, timeout=30, check=True,
        )
    except FileNotFoundError as exc:
        raise RuntimeBuildError(
            f"netns runtime: firewall rules need {argv[0]} (apt-get install iptables)"
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise RuntimeBuildError(
            f"netns runtime: {' '.join(argv)} failed: {exc.stderr.strip()}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise RuntimeBuildError(f"netns runtime: {' '.join(argv)} timed out") from exc
