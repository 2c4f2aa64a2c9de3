"""Name lookups on Docker's default bridge: it has no embedded DNS server.

Docker answers container names at 127.0.0.11 only on user-defined networks; a container
attached to the default `bridge` gets the host's resolv.conf and cannot resolve its peers.
"""

from __future__ import annotations

import logging

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import kind_of, probe_line, source_node
from netcheck.model.plan import Driver
from netcheck.model.results import Finding, Node, Observation
from netcheck.model.sites import ContainerPid

log = logging.getLogger(__name__)
DEFAULT_BRIDGE = "bridge"


def on_default_bridge(case: Case, node: Node) -> bool:
    for iface in node.interfaces:
        if iface.network != DEFAULT_BRIDGE:
            continue
        try:
            net = case.plan.network(DEFAULT_BRIDGE)
        except KeyError:
            return True  # not declared: Docker's predefined default bridge
        if net.driver is Driver.BRIDGE and not net.subnets and not net.options:
            return True
    return False


def resolv_conf(node: Node) -> list[str]:
    if not isinstance(node.site, ContainerPid):
        return []
    try:
        with open(f"/proc/{node.site.pid}/root/etc/resolv.conf", encoding="utf-8") as fh:
            return [line.strip() for line in fh if line.startswith("nameserver")]
    except OSError as exc:
        log.debug("resolv.conf of %s: %s", node.name, exc)
        return []


class DnsDefaultBridge:
    id = "dns-default-bridge"
    needs = (
        "the source attached to Docker's default bridge network, its /etc/resolv.conf"
    )
    remedy = "attach the containers to a user-defined network"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if not kind_of(case).asks_server or r.observation is Observation.ANSWERED:
            return None
        src = source_node(case)
        if src is None or not on_default_bridge(case, src):
            return None
        others = [i.network for i in src.interfaces if i.network != DEFAULT_BRIDGE]
        evidence = [
            f"{src.name} is attached to Docker's default bridge network"
            + (f" (and {', '.join(others)})" if others else " only"),
            "Docker's embedded DNS (127.0.0.11) serves user-defined networks only",
        ]
        servers = resolv_conf(src)
        if servers:
            evidence.append(f"{src.name} /etc/resolv.conf: {'; '.join(servers)}")
        evidence.append(probe_line(case))
        return Finding(
            id=self.id,
            summary=f"{src.name} is on Docker's default bridge, which has no embedded DNS: "
                    f"{r.probe.qname or r.target} cannot be resolved by name",
            evidence=tuple(evidence),
            fix="create a user-defined network (docker network create app) and attach the "
                "containers to it; names resolve there",
        )
