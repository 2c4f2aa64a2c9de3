"""One VM boot per test session: every VM scenario runs in it, the tests read what it wrote.

Under TCG Python is 15-20x slower than on the host, so booting once and batching is what
keeps this group within a few minutes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

log = logging.getLogger(__name__)

VM_SCENARIOS = (
    ROOT / "scenarios/vm/ipvlan-l2.yaml",
    ROOT / "scenarios/vm/ipvlan-l3.yaml",
    ROOT / "scenarios/vm/vlan-trunk.yaml",
    ROOT / "scenarios/vm/ipvlan210.yaml",
    # Seed 000 in its own spelling (parent: eth0.100 on a trunk eth0), on real 802.1q here.
    ROOT / "scenarios/multihost/macvlan100-trunk.yaml",
    # The guest starts its own containerd + dockerd for this one (~20 s more under TCG).
    ROOT / "scenarios/vm/docker-vlan-autocreate.yaml",
    # Not under a scenarios/ folder, or the pytest plugin would collect it as a test.
    ROOT / "tests/vm/data/fails-on-purpose.yaml",
)
# Wall clock for the whole boot. A healthy one takes about five minutes under TCG on an idle
# 2-core machine; on a loaded one the guest has shown soft lockups in runc and hit 600 s, so
# the budget leaves room (NETCHECK_VM_BUDGET_S overrides it).
BOOT_LIMIT_S = int(os.environ.get("NETCHECK_VM_BUDGET_S", "900"))
# Kept after the session, pass or fail: the console log is what explains a slow or failed boot.
KEPT_REPORTS = ROOT / "reports" / "vm-batch"


@dataclass(frozen=True)
class VmBatch:
    returncode: int
    stdout: str
    stderr: str
    reports: Path
    elapsed_s: float

    def results(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.reports / "vm-results.json").read_text())
        return data

    def record(self, stem: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.reports / f"{stem}.json").read_text())
        return data


def netcheck_cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture(scope="session")
def vm_batch() -> VmBatch:
    reports = KEPT_REPORTS
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir(parents=True)
    started = time.monotonic()
    proc = netcheck_cli(
        "vm", "run", "--reports", str(reports), "--timeout", str(BOOT_LIMIT_S),
        *(str(p) for p in VM_SCENARIOS), "--", "--timeout", "3",
        timeout=BOOT_LIMIT_S + 60,
    )
    elapsed = round(time.monotonic() - started, 1)
    batch = VmBatch(proc.returncode, proc.stdout, proc.stderr, reports, elapsed)
    results = reports / "vm-results.json"
    if not results.exists() or not json.loads(results.read_text())["finished"]:
        console = reports / "vm-console.log"
        tail = console.read_text(errors="replace")[-3000:] if console.exists() else ""
        pytest.fail(
            f"the VM batch did not finish (exit {proc.returncode}) in {elapsed} s of "
            f"{BOOT_LIMIT_S}:\n{proc.stderr}\n--- console tail ({console}) ---\n{tail}"
        )
    log.info("VM batch of %d scenarios: %.1f s wall clock", len(VM_SCENARIOS), elapsed)
    return batch
