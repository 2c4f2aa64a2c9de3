"""model/pickling.py: frozen slotted dataclasses pickled by their field values."""

from __future__ import annotations

import ipaddress
import pickle
from dataclasses import dataclass

from netcheck.model.pickling import by_fields
from netcheck.model.plan import ProbeKind, ProbeSpec
from netcheck.model.results import Observation, Packet, ProbeResult


@by_fields
@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    a: int
    b: tuple[str, ...] = ()


def test_round_trip_keeps_every_field_and_freezing() -> None:
    got = pickle.loads(pickle.dumps(Pair(a=1, b=("x",))))
    assert got == Pair(a=1, b=("x",))
    assert Pair(a=1).__getstate__() == (1, ())  # type: ignore[attr-defined]


def test_a_probe_result_as_workers_send_it() -> None:
    sent = Packet(summary="IP / ICMP 10.0.0.1 > 10.0.0.2 echo-request 0 / Raw",
                  src="10.0.0.1", dst="10.0.0.2", time=0.1)
    result = ProbeResult(
        probe_id="icmp:a->b", source="a", target="b",
        target_address=ipaddress.ip_address("10.0.0.2"),
        probe=ProbeSpec(kind=ProbeKind("icmp")), observation=Observation.SILENT,
        detail="no echo reply", sent=(sent,),
    )
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps([result, result], protocol=protocol))
        assert back == [result, result]
        assert back[0].probe.kind is ProbeKind("icmp")
