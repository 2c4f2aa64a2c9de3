"""A closed port: the host answered with RST or ICMP port unreachable.

A DNS probe's query goes to the resolver the source asks, not to the name's owner: a
refusal then says nothing listens on the resolver's port 53, and names the resolver.
"""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import firewall_hits, kind_of, source_node, target_node
from netcheck.model.addressing import target_address
from netcheck.model.plan import IPAddress
from netcheck.model.results import Finding, Observation


def dns_server(case: Case) -> IPAddress | None:
    """The server the DNS query went to, as the engine chose it."""
    src = source_node(case)
    if src is None:
        return None
    named = case.expectation.dns_server
    if named is not None:
        server = case.topology.nodes.get(named)
        return None if server is None else target_address(src, server, None)
    return src.resolver


class PortClosed:
    id = "port-closed"
    needs = (
        "a TCP RST or ICMP port unreachable, from the target (or, for DNS, from the resolver "
        "the query went to)"
    )
    remedy = "start the service, or probe the port it listens on"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.REFUSED:
            return None
        dst = target_node(case)
        kind = kind_of(case)
        how = kind.refusal
        answered = ", ".join(r.answered_by) or str(r.target_address)
        if kind.asks_server:
            server = dns_server(case)
            if server is not None and (dst is None or not any(
                    i.address == server for i in dst.interfaces)):
                return self._resolver(case, server, how, answered)
        if dst is not None and any(
            h.target == "REJECT" for h in firewall_hits(case, dst, ("INPUT",))
        ):
            return None  # a firewall forged the refusal: that is `filtered`
        evidence = [f"{how} from {answered}", r.detail]
        if dst is not None and r.probe.port is not None:
            evidence.append(
                f"{dst.name} listens on: {', '.join(str(p) for p in dst.listen) or 'nothing'}"
            )
        return Finding(
            id=self.id,
            summary=f"{r.target} is reachable but nothing listens on {r.probe}",
            evidence=tuple(evidence),
            fix=f"start the service on {r.target}, or probe the port it really listens on",
        )

    def _resolver(self, case: Case, server: IPAddress, how: str, answered: str) -> Finding:
        r = case.result
        return Finding(
            id=self.id,
            summary=f"the DNS server {server} that {r.source} asks refused the query for "
                    f"{r.probe.qname or r.target}: nothing listens on its port 53",
            evidence=(
                f"{r.source} sent the query to {server}, not to {r.target}",
                f"{how} from {answered}",
                r.detail,
            ),
            fix=f"point {r.source} at a resolver that answers (its /etc/resolv.conf), or "
                f"start a DNS server on {server}",
        )
