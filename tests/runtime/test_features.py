from __future__ import annotations

import os

import pytest

from netcheck.runtime import features
from netcheck.runtime.naming import new_run_id


@pytest.mark.privileged
def test_probe_finds_what_this_kernel_has_and_caches_it() -> None:
    features.reset_cache()
    run_id = new_run_id()
    found = features.probe(run_id)
    assert found.release == os.uname().release
    assert {"veth", "bridge", "macvlan"} <= found.available
    assert not found.available & found.missing
    assert features.probe(new_run_id()) is found  # cached per process
    assert not os.path.exists(f"/run/netns/nc-{run_id}-probe")
    assert found.facts()["kernel"] == found.release


def test_reason_names_the_kernel_option() -> None:
    kf = features.KernelFeatures(release="x", available=frozenset(), missing=frozenset({"ipvlan"}))
    assert kf.reason("ipvlan") == "kernel lacks ipvlan (CONFIG_IPVLAN)"
    assert not kf.has("ipvlan")
