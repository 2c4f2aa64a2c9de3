"""The target is off the source's subnet and the gateway the source routes through never
answers ARP: nobody holds that address, or the interface holding it is down.

Docker infers a network's gateway (the subnet's first address) when none is given; on a
macvlan/ipvlan network that address belongs to nobody unless the LAN's router happens to
hold it, so the containers' default route points into the void.
"""

from __future__ import annotations

import ipaddress

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import holding, probe_line, source_node
from netcheck.model.plan import NodeKind
from netcheck.model.results import Finding, Observation

_UNANSWERED = ("INCOMPLETE", "FAILED")


class NoGateway:
    id = "no-gateway"
    needs = (
        "the source's route lookup via a gateway, its neighbour entry for the gateway "
        "INCOMPLETE/FAILED, and nobody holding the gateway or the holder's interface down"
    )
    remedy = "point the default route at the LAN's real router, or bring the gateway's interface up"

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        if r.observation not in (Observation.SILENT, Observation.ICMP_ERROR):
            return None
        src = source_node(case)
        if src is None or r.target_address is None:
            return None
        route = case.live.route_lookup(src.netns, str(r.target_address))
        if route.errno or route.gateway is None:
            return None  # on-link or no route at all: not this rule's
        out_dev = case.live.ifname(src.netns, route.oif)
        own = case.live.link(src.netns, out_dev) if out_dev else None
        if own is None or not own.carrier:
            return None  # the source's own link is down: parent-down / a cable, not this
        state = case.live.neighbours(src.netns).get(route.gateway)
        if state is None or not any(s in state[0] for s in _UNANSWERED):
            return None  # the gateway answered ARP (or was never asked): not this rule's
        gw = ipaddress.ip_address(route.gateway)
        evidence = [f"{src.name}: {route.text}",
                    f"neighbour {gw} in {src.name}: {state[0]} (no ARP reply)"]
        holders = [(n, i) for n in case.topology.nodes.values()
                   if (i := holding(n, gw)) is not None and n.name != src.name]
        if not holders:
            evidence.append(f"no node of this run holds {gw}")
            why = f"nobody holds {gw}"
            how = ("docker network create --gateway <router address> ...; in a scenario: "
                   "the subnet's gateway" if src.kind is NodeKind.ENDPOINT
                   else "ip route replace default via <router address>")
            fix = (f"give {src.name} the LAN's real router as gateway ({how}), or put {gw} "
                   "on the router")
        else:
            down = []
            for node, iface in holders:
                live = case.live.link(node.netns, iface.ifname)
                if live is not None and (not live.admin_up or not live.carrier):
                    down.append(f"{node.name} {iface.ifname} holds {gw}: admin "
                                f"{'up' if live.admin_up else 'down'}, operstate "
                                f"{live.operstate}, carrier {int(live.carrier)}")
            if not down:
                return None  # held by an interface that is up: something else ate the ARP
            evidence.extend(down)
            who = holders[0][0].name
            why = f"{who}'s interface holding {gw} is down"
            fix = f"on {who}: bring {holders[0][1].ifname} up (ip link set up) and check its link"
        evidence.append(probe_line(case))
        finding = Finding(
            id=self.id,
            summary=f"{src.name} routes {r.target_address} via {gw}, which never answers "
                    f"ARP: {why}",
            evidence=tuple(evidence),
            fix=fix,
        )
        return Explained(finding=finding, strength=Strength.LOOKUP)
