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


def test_judge_reads_the_kernels_answer() -> None:
    ok = features.judge("ipvs", 0, "Name: IPVS", "")
    assert ok.ok and ok.reason is None
    lacking = features.judge("ipvs", 255, "", "RTNETLINK answers: No such file or directory\n")
    assert lacking.probed and not lacking.ok
    assert lacking.reason is not None
    assert lacking.reason.startswith(
        "kernel lacks IPVS (CONFIG_IP_VS): swarm VIP services and the routing mesh need it"
    )
    assert "No such file or directory" in lacking.reason
    esp = features.judge("esp", 2, "", "Error: Requested AEAD algorithm not found.\n")
    assert esp.reason is not None and esp.reason.startswith("kernel lacks ESP (CONFIG_INET_ESP)")


def test_judge_tells_a_missing_tool_from_a_missing_feature() -> None:
    for rc, err in ((127, "unshare: failed to execute genl: No such file or directory"),
                    (1, "unshare: unshare failed: Operation not permitted")):
        found = features.judge("ipvs", rc, "", err)
        assert not found.probed and not found.ok
        assert found.reason is not None and found.reason.startswith("cannot probe")


def test_checks_run_in_a_throwaway_namespace() -> None:
    for argv in features.CHECK_ARGV.values():
        assert argv[:3] == ("unshare", "--net", "--")


@pytest.mark.privileged
def test_esp_and_ipvs_probed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    features.reset_cache()
    calls: list[tuple[str, ...]] = []
    real = features._run_local

    def counting(argv: tuple[str, ...]) -> tuple[int, str, str]:
        calls.append(tuple(argv))
        return real(argv)

    monkeypatch.setattr(features, "_run_local", counting)
    for feature in ("esp", "ipvs"):
        first = features.check(feature)
        assert features.check(feature) is first
        assert first.probed, first.answer  # root with iproute2: the kernel answered
        assert first.ok or (first.reason or "").startswith("kernel lacks")
    assert len(calls) == 2
    features.reset_cache()
