"""The README's examples, checked against the code: the quickstart block is the shipped file,
every `netcheck ...` command line parses with the real parser (and its scenario loads with
its --set values), and every scenario or script it names exists. Pure: nothing is built."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from netcheck.cli.main import build_parser
from netcheck.scenario import load_plan
from netcheck.vm.cli import split_run_args

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
_PREFIXES = ("sudo ", ".venv/bin/", "./.venv/bin/")


def _blocks(lang: str) -> list[str]:
    return [m[2] for m in _FENCE.finditer(README) if m[1] == lang]


def _command_lines() -> list[str]:
    """`netcheck ...` lines of the shell blocks, and the netcheck commands inside inline
    `vagrant ssh ... -c '...'` examples."""
    lines: list[str] = []
    for block in _blocks("sh"):
        lines += block.replace("\\\n", " ").splitlines()
    for span in re.findall(r"`(vagrant [^`]+)`", README):
        for arg in re.findall(r"-c '([^']+)'", span.replace("\n", " ")):
            lines.append(arg)
    out = []
    for line in lines:
        words = shlex.split(line, comments=True)
        text = " ".join(words)
        while text.startswith(_PREFIXES):
            text = next(text[len(p):] for p in _PREFIXES if text.startswith(p))
        if text.startswith("netcheck "):
            out.append(text)
    return out


COMMANDS = _command_lines()


def test_quickstart_block_is_the_shipped_file() -> None:
    intro = "`scenarios/quickstart.yaml` is Docker's macvlan \"pub_net\" example on a lab LAN:"
    start = README.index(intro) + len(intro)
    block = _FENCE.search(README, start)
    assert block is not None and block[1] == "yaml"
    shipped = (ROOT / "scenarios" / "quickstart.yaml").read_text(encoding="utf-8")
    assert block[2] == shipped


def test_the_readme_has_commands() -> None:
    assert len(COMMANDS) >= 8, COMMANDS
    assert any(c.startswith("netcheck vm run ") for c in COMMANDS)


def _scenario_path(text: str) -> Path:
    return ROOT / text.removeprefix("/vagrant/")


@pytest.mark.parametrize("command", COMMANDS)
def test_command_parses_and_its_scenario_loads(command: str) -> None:
    argv = shlex.split(command)[1:]
    parser = build_parser()
    args = parser.parse_args(argv)  # SystemExit(2) on any option the parser does not know
    if args.command == "vm":
        scenarios, run_args = split_run_args(list(args.scenario))
        for scenario in scenarios:
            run = parser.parse_args(["run", scenario, *run_args])
            assert run.command == "run"
            load_plan(_scenario_path(scenario))
        return
    scenarios = args.scenario if isinstance(getattr(args, "scenario", None), list) else (
        [args.scenario] if getattr(args, "scenario", None) else []
    )
    sets = dict(item.split("=", 1) for item in getattr(args, "set", []))
    for scenario in scenarios:
        load_plan(_scenario_path(scenario), sets)  # --set names a variable it has


def test_every_scenario_and_script_named_exists() -> None:
    named = set(re.findall(r"(?<![\w/])(?:/vagrant/)?(scenarios/[\w./-]+\.yaml)", README))
    assert "scenarios/quickstart.yaml" in named
    for path in named:
        assert (ROOT / path).is_file(), path
    shipped = {p.name for p in (ROOT / "scenarios").rglob("*.yaml")}
    for name in re.findall(r"`([\w.-]+\.yaml)`", README):
        assert name in shipped, name
    for script in set(re.findall(r"scripts/[\w.-]+\.(?:sh|py)", README)):
        assert (ROOT / script).is_file(), script
