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


# --- the lab reference: every knob's one-line example validates where its row puts it ------

# A small lab each example is merged into: the names the examples use (h1, h2, m, lan, ovl,
# table 100) exist here, so a row is checked as a user would paste it. The router names its
# legs so a LAN that reuses `lan`'s subnet has no node on both, as its row says.
_LAB_BASE = """\
name: readme-knob
description: the README lab reference's examples, one at a time
lab:
  lans:
    lan: {subnet: 10.51.0.0/24, gateway: 10.51.0.1}
  router: {lans: [lan]}
  machines:
    m: {lan: lan, ip: 10.51.0.20}
  hosts:
    h1:
      uplinks: [{ifname: eth0, lan: lan, ip: 10.51.0.11}]
      tables: {100: ["default via 10.51.0.1 dev eth0"]}
    h2:
      uplinks: [{ifname: eth0, lan: lan, ip: 10.51.0.12}]
networks:
  ovl: {subnets: [{subnet: 192.168.71.0/24}]}
endpoints:
  c1: {host: h1, networks: {ovl: {ip: 192.168.71.11}}}
  c2: {host: h2, networks: {ovl: {ip: 192.168.71.12}}}
expectations:
  - from: m
    to: h1
    probe: icmp
"""
_ROW = re.compile(r"^\| (?P<knob>[^|]+?) \| `(?P<where>[^`]+)`[^|]* \| `(?P<example>[^`]+)` \|$",
                  re.M)


def _lab_rows() -> list[tuple[str, str, str]]:
    start = README.index("### Lab reference")
    end = README.index("\n## ", start)
    return [(m["knob"], m["where"], m["example"]) for m in _ROW.finditer(README[start:end])]


LAB_ROWS = _lab_rows()


def test_the_lab_reference_has_a_row_per_issue_12_knob() -> None:
    examples = " ".join(e for _, _, e in LAB_ROWS)
    for word in ("rules:", "tables:", "addresses:", "routes:", "onlink", "src ", "neighbours:",
                 "duplicate: allowed", "default_route: false", "lans:", "hairpin: true",
                 "state: no-carrier", "vlan:", "vxlan:", "vni:", "port:", "mtu:", "master:",
                 "local:", "dev:"):
        assert word in examples, word


def _place(doc: dict[str, object], where: str) -> dict[str, object]:
    """The mapping at `where` (`lab.hosts.NAME.uplinks[0]`; NAME: the first of its kind)."""
    node: object = doc
    for part in where.split("."):
        key, _, index = part.partition("[")
        assert isinstance(node, dict), where
        if key == "NAME":
            key = next(iter(node))
        node = node.setdefault(key, {})
        if index:
            assert isinstance(node, list), where
            node = node[int(index.rstrip("]"))]
    assert isinstance(node, dict), where
    return node


@pytest.mark.parametrize(("knob", "where", "example"), LAB_ROWS, ids=[r[0] for r in LAB_ROWS])
def test_each_lab_reference_example_validates_where_its_row_says(
    knob: str, where: str, example: str, tmp_path: Path
) -> None:
    import yaml

    doc = yaml.safe_load(_LAB_BASE)
    fragment = yaml.safe_load("{" + example + "}")
    assert isinstance(fragment, dict) and fragment, example
    _place(doc, where).update(fragment)
    path = tmp_path / "knob.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    load_plan(path)  # ScenarioErrors (with the line) when the example does not hold
