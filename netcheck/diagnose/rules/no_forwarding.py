"""A lab router (router: or one of routers:) on the way does not forward (ip_forward=0)."""

from __future__ import annotations

from netcheck.diagnose.base import Case, Explained
from netcheck.diagnose.rules._common import holding, ip_or_none
from netcheck.model.results import Finding, Interface, Node, Observation

# What the kernel says when a router without ip_forward gets a packet for elsewhere.
_DROP_REASONS = ("IP_INADDRERRORS", "IP_INNOROUTES")


class NoForwarding:
    id = "no-forwarding"
    needs = (
        "net.ipv4.ip_forward = 0 on the node the route lookup says forwards"
    )
    remedy = "sysctl -w net.ipv4.ip_forward=1 on the router"

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        if r.observation in (Observation.ANSWERED, Observation.ERROR):
            return None
        src = case.topology.nodes.get(r.source)
        if src is None or r.target_address is None:
            return None
        if any(i.prefix is not None and r.target_address in i.prefix for i in src.interfaces):
            return None  # same subnet: no router is on the path
        # Every router of the lab (router: and routers:) that has a leg on the target's
        # subnet or holds the next hop the source's lookup names: the one that forwards.
        lookup = case.live.route_lookup(src.netns, str(r.target_address))
        hop = ip_or_none(lookup.gateway)
        for router_cfg in case.plan.lab.all_routers:
            router = case.topology.nodes.get(router_cfg.name)
            if router is None:
                continue
            legs = [i for i in router.interfaces if i.prefix is not None]
            if not (any(r.target_address in i.prefix for i in legs if i.prefix is not None)
                    or holding(router, hop) is not None):
                continue
            found = self._not_forwarding(case, router, legs, lookup.text)
            if found is not None:
                return found
        return None

    def _not_forwarding(self, case: Case, router: Node, legs: list[Interface],
                        lookup: str) -> Explained | None:
        value = case.live.sysctl(router.netns, "net.ipv4.ip_forward")
        if value != "0":
            return None
        evidence = [
            f"{router.name}: net.ipv4.ip_forward = 0",
            f"{router.name} legs: "
            + ", ".join(f"{i.ifname} {i.address}/{i.prefix.prefixlen}" for i in legs
                        if i.prefix is not None),
            lookup,
        ]
        leg_names = {i.ifname for i in legs}
        drops = [d for d in case.live.window.drops
                 if d.reason in _DROP_REASONS and d.dev in leg_names]
        if drops:
            evidence.append(f"kernel drop reason: {len(drops)} x {drops[0]} ({drops[0].location})")
        return Explained(finding=Finding(
            id=self.id,
            summary=f"{router.name} connects the two subnets but does not forward (ip_forward=0)",
            evidence=tuple(evidence),
            fix=f"on {router.name}: sysctl -w net.ipv4.ip_forward=1",
        ), at=router.name)
