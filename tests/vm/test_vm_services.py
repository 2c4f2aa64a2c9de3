"""Swarm VIP services, the routing mesh and an encrypted overlay on a kernel without them.

This build machine's kernel lacks IPVS and ESP: every check of the scenario is skipped with
the kernel's reason, none failed. Debian's kernel in the VM has both as modules, but the
scenario is not in the VM batch yet (see its header).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.vm.conftest import netcheck_cli

pytestmark = [pytest.mark.privileged]

STEM = "swarm-vip-mesh-encrypted"
SCENARIO = ROOT / "scenarios" / "vm" / f"{STEM}.yaml"
EXPECTED = {
    "icmp:client1->web", "tcp/80:client1->web", "dns/web:client1->web",
    "tcp/8080:laptop->host1",
    "icmp:client1->vault", "dns/vault:client1->vault",
}


def _verdicts(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["expectation_id"]: v for v in record["verdicts"]}


def test_same_scenario_skips_with_the_kernel_reason_on_this_host(tmp_path: Path) -> None:
    from netcheck.runtime.docker.multihost import esp_missing, ipvs_missing

    if esp_missing() is None or ipvs_missing() is None:
        pytest.skip("this host's kernel has ESP or IPVS: nothing to skip")
    record = tmp_path / "r.json"
    proc = netcheck_cli("run", str(SCENARIO), "--json", str(record), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts = _verdicts(json.loads(record.read_text()))
    assert set(verdicts) == EXPECTED
    assert {v["outcome"] for v in verdicts.values()} == {"skip"}
    assert "kernel lacks IPVS (CONFIG_IP_VS)" in verdicts["tcp/8080:laptop->host1"]["observed"]
    assert "kernel lacks ESP (CONFIG_INET_ESP)" in verdicts["icmp:client1->web"]["observed"]
