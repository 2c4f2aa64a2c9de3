"""A target whose listener cannot start errors its tcp/udp checks; the rest still run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netcheck.engine.run import RunOptions, run_plan
from netcheck.model.results import Outcome, Topology
from netcheck.scenario import load_plan
from tests.helpers import ROOT

HOLD_PORT = (
    "import socket, sys, time\n"
    "s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)\n"
    "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', 445)); s.listen()\n"
    "print('bound', flush=True); time.sleep(120)\n"
)


@pytest.mark.privileged
def test_port_taken_in_the_target_errors_only_its_tcp_checks(no_leftovers: None) -> None:
    plan = load_plan(ROOT / "scenarios" / "quickstart.yaml")
    holders: list[subprocess.Popen[str]] = []

    def take_port(topology: Topology) -> None:
        proc = subprocess.Popen(
            ["nsenter", f"--net={topology.nodes['nas'].netns}", "--",
             sys.executable, "-c", HOLD_PORT],
            stdout=subprocess.PIPE, text=True,
        )
        holders.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "bound"

    try:
        record = run_plan(
            plan, RunOptions(runtime="netns", only=("*->nas",), after_build=take_port)
        )
    finally:
        for proc in holders:
            proc.kill()
            proc.wait(timeout=10)
    by_id = {v.expectation_id: v for v in record.verdicts}
    for src in ("c1", "c2"):
        tcp = by_id[f"tcp/445:{src}->nas"]
        assert tcp.outcome is Outcome.ERROR
        assert "listener could not start" in tcp.message
        assert "445" in tcp.message
        assert by_id[f"icmp:{src}->nas"].outcome is Outcome.PASS
