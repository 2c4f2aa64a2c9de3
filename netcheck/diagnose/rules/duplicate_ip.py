"""Two machines answer ARP for one address: overlapping ip_ranges on two Docker hosts."""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.model.results import Finding, Observation


class DuplicateIp:
    id = "duplicate-ip"
    needs = (
        "two MACs answering one ARP request, matched to the nodes that hold them"
    )
    remedy = "give each node its own address (fix the overlapping ip_ranges)"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.CONFLICT or len(r.answered_by) < 2:
            return None
        owners: list[str] = []
        holders: list[tuple[str, str]] = []
        for mac in r.answered_by:
            who = "an unknown machine"
            for node in case.topology.nodes.values():
                for iface in node.interfaces:
                    if iface.mac and iface.mac.lower() == mac.lower():
                        on = f" on {node.host}" if node.host else ""
                        who = f"{node.name} {iface.ifname}{on}"
                        holders.append((node.name, iface.network))
            owners.append(f"{mac} is {who}")
        evidence = [
            f"ARP who-has {r.target_address}: {len(r.answered_by)} different MACs answered",
            *owners,
        ]
        fix = "give every address one owner: fixed ips, or disjoint pools"
        nets = {net for _, net in holders}
        for net_name in sorted(nets):
            try:
                net = case.plan.network(net_name)
            except KeyError:
                continue
            hosts = sorted({case.topology.nodes[n].host or "?" for n, nt in holders
                            if nt == net_name})
            ranges = [str(s.ip_range or s.subnet) for s in net.subnets]
            if len(hosts) > 1:
                evidence.append(
                    f"network {net_name} hands out {', '.join(ranges)} on each of "
                    f"{', '.join(hosts)}: every Docker daemon runs its own IPAM, so their "
                    "pools overlap"
                )
                fix = (f"give each host a disjoint ip_range on {net_name} (split "
                       f"{ranges[0]} into one slice per host), or fixed ips")
        return Finding(
            id=self.id,
            summary=f"{r.target_address} is held by {len(r.answered_by)} machines at once",
            evidence=tuple(evidence),
            fix=fix,
        )
