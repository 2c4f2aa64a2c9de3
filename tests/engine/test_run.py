"""Choosing a runtime for a plan (engine.run.choose_runtime)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.engine.run import choose_runtime
from netcheck.errors import EXIT_USAGE, UsageError
from netcheck.scenario import load_plan

ADOPTING = """
name: adopting
networks:
  prod: {external: true, name: macvlan100}
endpoints:
  web: {container: web-1}
  probe1: {networks: [prod]}
expectations:
  - from: probe1
    to: web
    probe: icmp
"""


def test_the_netns_runtime_refuses_what_exists_on_a_docker_daemon(tmp_path: Path) -> None:
    path = tmp_path / "adopting.yaml"
    path.write_text(ADOPTING)
    plan = load_plan(path)
    with pytest.raises(UsageError) as caught:
        choose_runtime("netns", plan, None)
    assert caught.value.exit_code == EXIT_USAGE
    text = str(caught.value)
    assert "--runtime netns cannot use network 'prod', endpoint 'web' (container web-1)" in text
    assert text.endswith("Use --runtime docker")


def test_a_plan_that_adopts_nothing_runs_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(ADOPTING.replace("{external: true, name: macvlan100}", "{}")
                    .replace("web: {container: web-1}", "web: {networks: [prod]}"))
    assert choose_runtime("netns", load_plan(path), None) == "netns"


def test_auto_picks_docker_for_a_plan_adopting_on_a_named_daemon(tmp_path: Path) -> None:
    path = tmp_path / "far.yaml"
    path.write_text(ADOPTING.replace("name: adopting\n", "name: adopting\nlab:\n  hosts:\n"
                                     "    far: {docker: 'tcp://10.0.0.1:2375'}\n"))
    assert choose_runtime("auto", load_plan(path), None) == "docker"
