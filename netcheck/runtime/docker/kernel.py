"""What the running kernel can do for Docker's drivers (probed once per process)."""

from __future__ import annotations

from netcheck.runtime import features


def ipvlan_missing(run_id: str) -> str | None:
    """None when the kernel can make ipvlan links; else the reason, for skip messages."""
    found = features.probe(run_id)
    return None if found.has("ipvlan") else str(found.reason("ipvlan"))
