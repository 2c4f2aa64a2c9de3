"""A container on a Docker network created with `--internal` has no way off that network.

Docker keeps such a network to itself: newer engines give its containers no default route
at all (the application gets "network unreachable"); Engine 20.10 gives them one, and the
host's DOCKER-ISOLATION chains (DOCKER-INTERNAL on newer engines) drop whatever leaves
the bridge for another interface. Either way the request dies on the container's own host:
a route back on the LAN changes nothing.
"""

from __future__ import annotations

import errno

from netcheck.diagnose.base import Case, Explained, Strength
from netcheck.diagnose.rules._common import FirewallHit, firewall_hits, probe_line, source_node
from netcheck.model.plan import IPAddress, Network
from netcheck.model.results import Finding, Interface, Observation

ISOLATION_CHAINS = ("DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-INTERNAL")
_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)


def _internal(case: Case, iface: Interface) -> Network | None:
    try:
        net = case.plan.network(iface.network)
    except KeyError:
        return None
    return net if net.internal else None


def _inside(net: Network, iface: Interface, address: IPAddress) -> bool:
    if iface.prefix is not None and address in iface.prefix:
        return True
    return any(address in s.subnet for s in net.subnets if s.subnet.version == address.version)


def only_internal(case: Case) -> bool:
    """The probe leaves an --internal network for an address outside it, and the source has
    no other network (so no way out at all)."""
    src = source_node(case)
    t_addr = case.result.target_address
    if src is None or t_addr is None or not src.interfaces:
        return False
    nets = [(i, _internal(case, i)) for i in src.interfaces]
    return all(n is not None and not _inside(n, i, t_addr) for i, n in nets)


class DockerInternal:
    id = "docker-internal"
    needs = (
        "the source's network created with --internal, the target outside it, and either the "
        "source's route lookup failing (no default route) or DROP rules with packets in the "
        "host's DOCKER-ISOLATION/DOCKER-INTERNAL chains"
    )
    remedy = (
        "connect the container to a network that is not internal, or recreate the network "
        "without --internal"
    )

    def explain(self, case: Case) -> Explained | None:
        r = case.result
        if r.observation in (Observation.ANSWERED, Observation.REFUSED):
            return None
        src = source_node(case)
        t_addr = r.target_address
        if src is None or t_addr is None:
            return None
        internal = [(i, n) for i in src.interfaces if (n := _internal(case, i)) is not None]
        if not internal or any(_inside(n, i, t_addr) for i, n in internal):
            return None
        lookup = case.live.route_lookup(src.netns, str(t_addr))
        out_dev = case.live.ifname(src.netns, lookup.oif)
        evidence = [f"{src.name}: {lookup.text}"]
        strength = Strength.LOOKUP
        if lookup.errno in _NO_ROUTE:
            iface, net = internal[0]
            evidence.append(
                f"{src.name}'s only routes are its networks' own subnets: "
                f"{', '.join(str(i.prefix) for i in src.interfaces if i.prefix)}"
            )
        else:
            found = next(((i, n) for i, n in internal if i.ifname == out_dev), None)
            if found is None:
                return None  # the way out is another (not internal) network: not this rule
            iface, net = found
            hits = self._isolation_drops(case, src.host)
            if not hits:
                return None  # nothing observed dropping it on the host
            strength = Strength.KERNEL
            evidence.extend(f"{h.node} iptables {h.chain}: {h.line}" for h in hits)
        subnets = ", ".join(str(s.subnet) for s in net.subnets) or str(iface.prefix)
        evidence.insert(0, f"{src.name} {iface.ifname} is on {net.name} ({subnets}), created "
                           "by this run with --internal")
        evidence.append(probe_line(case))
        finding = Finding(
            id=self.id,
            summary=f"{src.name} is on {net.name}, a Docker network created with --internal: "
                    f"Docker lets nothing leave it, so {t_addr} (outside {subnets}) is cut off "
                    f"on {src.host or 'the host'} itself",
            evidence=tuple(evidence),
            fix=f"connect {src.name} to a network that is not internal as well (docker "
                f"network connect <net> {src.name}), or recreate {net.name} without "
                "--internal; a route back on the LAN does not help",
        )
        return Explained(finding=finding, strength=strength, at=src.host)

    def _isolation_drops(self, case: Case, host_name: str | None) -> list[FirewallHit]:
        host = case.topology.nodes.get(host_name) if host_name else None
        if host is None:
            return []
        return firewall_hits(case, host, ISOLATION_CHAINS)
