"""Findings read straight off the probe and the routing table: closed port, no route."""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.model.plan import ProbeKind
from netcheck.model.results import Finding, Observation


class PortClosed:
    id = "port-closed"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.REFUSED:
            return None
        how = "TCP RST" if r.probe.kind is ProbeKind.TCP else "ICMP port unreachable"
        answered = ", ".join(r.answered_by) or str(r.target_address)
        return Finding(
            id=self.id,
            summary=f"{r.target} is reachable but nothing listens on {r.probe}",
            evidence=(f"{how} from {answered}", r.detail),
            fix=f"start the service on {r.target}, or probe the port it really listens on",
        )


class NoRoute:
    id = "no-route"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.ERROR or "route" not in r.detail:
            return None
        src = case.topology.nodes.get(r.source)
        if src is None:
            return None
        lookup = case.live.route_get(src.netns, str(r.target_address))
        return Finding(
            id=self.id,
            summary=f"{r.source} has no route to {r.target_address}",
            evidence=(lookup, r.detail),
            fix="add a route or a default gateway on the source's network (subnet gateway)",
        )


class NoForwarding:
    """The lab router holds legs on both subnets but does not forward between them."""

    id = "no-forwarding"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        router_cfg = case.plan.lab.router
        if router_cfg is None or r.observation in (Observation.ANSWERED, Observation.ERROR):
            return None
        router = case.topology.nodes.get(router_cfg.name)
        src = case.topology.nodes.get(r.source)
        if router is None or src is None or r.target_address is None:
            return None
        if any(i.prefix is not None and r.target_address in i.prefix for i in src.interfaces):
            return None  # same subnet: the router is not on the path
        legs = [i for i in router.interfaces if i.prefix is not None]
        if not any(r.target_address in i.prefix for i in legs if i.prefix is not None):
            return None
        value = case.live.sysctl(router.netns, "net.ipv4.ip_forward")
        if value != "0":
            return None
        return Finding(
            id=self.id,
            summary=f"{router.name} connects the two subnets but does not forward (ip_forward=0)",
            evidence=(
                f"{router.name}: net.ipv4.ip_forward = 0",
                f"{router.name} legs: "
                + ", ".join(f"{i.ifname} {i.address}/{i.prefix}" for i in legs),
                case.live.route_get(src.netns, str(r.target_address)),
            ),
            fix=f"on {router.name}: sysctl -w net.ipv4.ip_forward=1",
        )
