"""The writer: stable, commented YAML that loads back as the same structure."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from netcheck.discover.derive import derive
from netcheck.discover.live import LiveHost
from netcheck.discover.writer import Failure, render, scalar


@pytest.mark.parametrize("text", ["on", "yes", "no", "null", "~", "true", "1.5", "0x1f", "1e3",
                                  "a #b", "a: b", "*x", "&y", "-", "", " x", "1:20", "fd00::1"])
def test_scalars_load_back_as_the_same_string(text: str) -> None:
    assert yaml.safe_load(f"k: {scalar(text)}") == {"k": text}


@pytest.mark.parametrize("text", ["dsc-web", "web-1", "10.231.1.1", "icmp", "dns/www"])
def test_plain_names_stay_plain(text: str) -> None:
    assert scalar(text) == text


def _doc(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_shape_of_the_written_scenario(host: LiveHost) -> None:
    data = _doc(render(derive([host])))
    assert data["runtime"] == "docker"
    assert data["networks"] == {n: {"external": True} for n in
                                ("dsc-backend", "dsc-frontend", "dsc-iso")}
    assert data["endpoints"]["dsc-web"] == {"container": "dsc-web"}
    assert data["targets"]["dsc-backend-gateway"] == {"address": "10.231.1.1"}
    assert {"mesh", "from", "isolated"} >= {k for e in data["expectations"] for k in e
                                            if k in ("mesh", "from", "isolated")}
    # Defaults are left out: no `reachable: true`, no empty lists, no lab for one host.
    assert all(e.get("reachable", False) is False for e in data["expectations"])
    assert "lab" not in data


def test_no_ids_macs_or_dynamic_addresses(host: LiveHost) -> None:
    text = render(derive([host]))
    dynamic = [str(a) for c in host.containers for att in c.attachments
               for a in att.addresses if a not in att.fixed]
    # An address as itself, not as the network part of a range (10.231.2.128/25).
    assert dynamic and not [a for a in dynamic
                            if re.search(rf"(?<![\d.]){re.escape(a)}(?![\d/])", text)]
    assert "10.231.1.10" in text  # the fixed --ip of dsc-db is configuration
    assert "02:42" not in text
    raw_ids = [c for c in text.split() if len(c) >= 12 and all(ch in "0123456789abcdef"
                                                               for ch in c)]
    assert raw_ids == []


def test_every_expectation_carries_the_comment_it_was_derived_from(host: LiveHost) -> None:
    lines = render(derive([host])).splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("  - ")]
    assert len(starts) == len(derive([host]).expectations) > 5
    for i in starts:
        assert lines[i - 1].startswith("  # "), lines[i - 1 : i + 1]


def test_identical_text_for_an_unchanged_host(host: LiveHost) -> None:
    assert render(derive([host])) == render(derive([host]))


def test_a_failing_promise_stays_and_the_fault_is_only_a_comment(host: LiveHost) -> None:
    draft = derive([host])
    check = "icmp:dsc-web->dsc-backend-gateway"
    failure = Failure(check_id=check, outcome="fail",
                      observed="expected reachable, observed silent: no echo reply",
                      finding="rp-filter",
                      explanation=("rp-filter: dsc-web drops the reply", "fix: sysctl ..."))
    text = render(draft, failures={check: failure})
    clean = render(draft)
    assert _doc(text) == _doc(clean)  # the same spec: the fault is never written into it
    assert f"# FAILS NOW {check}: expected reachable, observed silent" in text
    assert "#   rp-filter: dsc-web drops the reply" in text
    assert ("# - {from: dsc-web, to: dsc-backend-gateway, probe: icmp, reachable: false, "
            "reason: rp-filter}") in text
    assert "1 check(s) fail now" in text
    # The commented fault sits under its own expectation.
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  # FAILS NOW"))
    start = [i for i in range(at) if lines[i].startswith("  - ")][-1]
    assert lines[start : start + 2] == ["  - from: [dsc-db, dsc-web]",
                                        "    to: dsc-backend-gateway"]


def test_could_not_test_is_marked_without_an_alternative(host: LiveHost) -> None:
    check = "icmp:dsc-web->dsc-backend-gateway"
    text = render(derive([host]), failures={check: Failure(
        check_id=check, outcome="error", observed="could not enter namespace")})
    assert f"# COULD NOT TEST NOW {check}: could not enter namespace" in text
    assert "reachable: false" not in text.split("COULD NOT TEST NOW")[1].split("\n  - ")[0]


def test_loads_back_through_the_scenario_loader(host: LiveHost) -> None:
    from netcheck.discover.pipeline import check_ids, load_text

    draft = derive([host])
    plan = load_text(render(draft), "discovered")
    check_ids(plan, draft)


def test_several_daemons_become_lab_hosts_and_names_stay_unique(host: LiveHost) -> None:
    from dataclasses import replace

    far = replace(host, url="tcp://10.0.0.2:2376", hostname="far")
    draft = derive([replace(host, hostname="near"), far])
    data = _doc(render(draft))
    assert data["lab"] == {"hosts": {"far": {"docker": "tcp://10.0.0.2:2376"},
                                     "near": {"docker": host.url}}}
    assert data["endpoints"]["dsc-db"] == {"container": "dsc-db", "host": "near"}
    assert data["endpoints"]["dsc-db-2"] == {"container": "dsc-db", "host": "far"}
    ids = [c.id for d in draft.expectations for c in d.checks()]
    assert len(ids) == len(set(ids))
    from netcheck.discover.pipeline import check_ids, load_text

    check_ids(load_text(render(draft), "discovered"), draft)
