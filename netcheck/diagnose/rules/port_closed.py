"""A closed port: the host answered with RST or ICMP port unreachable."""

from __future__ import annotations

from netcheck.diagnose.base import Case
from netcheck.diagnose.rules._common import firewall_hits, target_node
from netcheck.model.plan import ProbeKind
from netcheck.model.results import Finding, Observation


class PortClosed:
    id = "port-closed"

    def explain(self, case: Case) -> Finding | None:
        r = case.result
        if r.observation is not Observation.REFUSED:
            return None
        dst = target_node(case)
        if dst is not None and any(
            h.target == "REJECT" for h in firewall_hits(case, dst, ("INPUT",))
        ):
            return None  # a firewall forged the refusal: that is `filtered`
        how = "TCP RST" if r.probe.kind is ProbeKind.TCP else "ICMP port unreachable"
        answered = ", ".join(r.answered_by) or str(r.target_address)
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
