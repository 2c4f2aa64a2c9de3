"""diagnose(): findings the run's own probes contradict are left out; strongest first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netcheck.diagnose import Case, Explained, Strength, diagnose
from netcheck.diagnose import base as diagnose_base
from netcheck.model.plan import Lab, Plan, ProbeKind, ProbeSpec
from netcheck.model.results import Finding, Observation, Topology
from tests.diagnose.stubs import node, pair

ICMP = ProbeSpec(kind=ProbeKind.ICMP)
PLAN = Plan(name="t", source="t.yaml", description=None, lab=Lab(), networks=(), endpoints=(),
            expectations=())
TOPO = Topology(run_id="abcdef", runtime="netns", nodes={
    n: node(n, ("eth0", "lan", f"10.0.0.{i}", "10.0.0.0/24"))
    for i, n in enumerate(("c1", "c2", "c3"), start=1)
})


class ClaimsSiblings:
    """A rule whose evidence says c1's siblings (c2, c3) can be reached."""

    id = "claims-siblings"

    def explain(self, case: Case) -> Explained | None:
        f = Finding(id=self.id, summary="c1's parent lost carrier",
                    evidence=("c2 and c3 can still be reached",))
        return Explained(finding=f, reaches=(("c1", "c2"), ("c1", "c3")))


class Weak:
    id = "weak"

    def explain(self, case: Case) -> Finding:
        return Finding(id=self.id, summary="read from the plan", evidence=("plan",))


class Strong:
    id = "strong"

    def explain(self, case: Case) -> Explained:
        f = Finding(id=self.id, summary="the kernel dropped it", evidence=("counter +1",))
        return Explained(finding=f, strength=Strength.KERNEL)


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run diagnose() with just the test rules registered."""
    monkeypatch.setattr(diagnose_base, "_REGISTRY", {})
    yield


def test_a_finding_the_run_contradicts_is_left_out(only: None) -> None:
    diagnose_base.register(ClaimsSiblings.id, ClaimsSiblings)
    to_nas = pair("c1", "nas", "10.0.0.9", ICMP, Observation.SILENT)
    # c1->c2 was probed and got no answer: "c2 can still be reached" is contradicted.
    silent = pair("c1", "c2", "10.0.0.2", ICMP, Observation.SILENT)
    found = diagnose(PLAN, TOPO, [to_nas, silent])
    assert found[to_nas[0].id] == ()
    assert found[silent[0].id] == ()


def test_a_finding_the_run_confirms_or_did_not_test_is_kept(only: None) -> None:
    diagnose_base.register(ClaimsSiblings.id, ClaimsSiblings)
    to_nas = pair("c1", "nas", "10.0.0.9", ICMP, Observation.SILENT)
    answered = pair("c1", "c2", "10.0.0.2", ICMP, Observation.ANSWERED, "echo reply")
    found = diagnose(PLAN, TOPO, [to_nas, answered])  # c1->c3 was not probed at all
    assert [f.id for f in found[to_nas[0].id]] == ["claims-siblings"]


def test_findings_are_ordered_by_strength_of_evidence(only: None) -> None:
    diagnose_base.register(Weak.id, Weak)  # registered first
    diagnose_base.register(Strong.id, Strong)
    p = pair("c1", "c2", "10.0.0.2", ICMP, Observation.SILENT)
    assert [f.id for f in diagnose(PLAN, TOPO, [p])[p[0].id]] == ["strong", "weak"]


def test_real_rules_claim_nothing_on_a_silent_probe_without_state() -> None:
    # The registry as shipped: an unknown topology yields no finding, never a crash.
    p = pair("c1", "c2", "10.0.0.2", ICMP, Observation.SILENT)
    topo = Topology(run_id="abcdef", runtime="netns", nodes={})
    assert diagnose(PLAN, topo, [p]) == {p[0].id: ()}
