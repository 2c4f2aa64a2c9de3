"""Command-line arguments: bad ones exit 2 with the subcommand's usage, never a traceback;
every option has help text and shows its default. Pure: nothing is built."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from netcheck.baseline import Baseline, save_baseline
from netcheck.cli.main import TIMEOUT_MAX_S, TIMEOUT_MIN_S, build_parser, main
from netcheck.model.results import Observation, Outcome
from tests.baseline.records import record, verdict
from tests.helpers import ROOT

QUICKSTART = str(ROOT / "scenarios" / "quickstart.yaml")


def _fails_with_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str], prog: str
) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: {prog} " in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("value", ["inf", "-inf", "1e308", "nan", "NaN", "0", "-1", "0.01",
                                   "121", "abc", ""])
def test_timeout_out_of_bounds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails_with_usage(["run", QUICKSTART, f"--timeout={value}"], capsys, "netcheck run")
    assert "--timeout" in err
    assert f"{TIMEOUT_MIN_S:g}" in err or "not a number" in err


@pytest.mark.parametrize("value", [str(TIMEOUT_MIN_S), "1", "2.5", str(TIMEOUT_MAX_S)])
def test_timeout_within_bounds(value: str) -> None:
    args = build_parser().parse_args(["run", QUICKSTART, "--timeout", value])
    assert args.timeout == float(value)


def test_timeout_bounds_are_in_the_help() -> None:
    text = _subparser("run").format_help()
    assert f"{TIMEOUT_MIN_S:g} to {TIMEOUT_MAX_S:g} seconds" in " ".join(text.split())
    assert "(default: 1.0)" in text


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (["run", "x.yaml", "--bogus"], "netcheck run"),
        (["validate", "x.yaml", "--bogus"], "netcheck validate"),
        (["diff", "a.json", "b.json", "--nope"], "netcheck diff"),
        (["clean", "--bogus"], "netcheck clean"),
        (["image", "build", "--bogus"], "netcheck image build"),
        (["run"], "netcheck run"),
        (["run", "x.yaml", "--format", "fancy"], "netcheck run"),
    ],
)
def test_subcommand_error_prints_subcommand_usage(
    argv: list[str], prog: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fails_with_usage(argv, capsys, prog)


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _parsers(sub)
    return found


def _subparser(name: str) -> argparse.ArgumentParser:
    return next(p for p in _parsers(build_parser()) if p.prog == f"netcheck {name}")


def test_every_option_has_help_and_shows_its_default() -> None:
    parsers = _parsers(build_parser())
    assert {"netcheck run", "netcheck vm run", "netcheck image build"} <= {p.prog for p in parsers}
    for parser in parsers:
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            name = "/".join(action.option_strings) or action.dest
            if action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"{parser.prog} {name} has no help text"
            default = action.default
            shown = default not in (None, False, [], argparse.SUPPRESS)
            if action.option_strings and shown and isinstance(default, int | float | str):
                assert f"default: {default}" in text or f"default {default}" in text, (
                    f"{parser.prog} {name}: the default {default!r} is not shown"
                )


def _saved(path: Path, scenario: str) -> str:
    rec = record("r1", verdict("icmp:a->b", Outcome.PASS, Observation.ANSWERED))
    save_baseline(path, Baseline(record=dataclasses.replace(rec, scenario=scenario),
                                 snapshot=None))
    return str(path)


def test_diff_refuses_two_scenarios(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _saved(tmp_path / "a.json", "quickstart"), _saved(tmp_path / "b.json", "other")
    assert main(["diff", a, b]) == 2
    err = capsys.readouterr().err
    assert "'quickstart'" in err and "'other'" in err and "--force" in err
    assert main(["diff", a, b, "--force"]) == 0


def test_diff_of_one_scenario_needs_no_force(tmp_path: Path) -> None:
    a, b = _saved(tmp_path / "a.json", "lab"), _saved(tmp_path / "b.json", "lab")
    assert main(["diff", a, b]) == 0


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e308, 0.0, -1.0])
def test_the_engine_refuses_a_bad_timeout_too(value: float) -> None:
    """The API and the pytest plugin do not go through the CLI's parser."""
    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.errors import UsageError
    from netcheck.scenario import load_plan

    with pytest.raises(UsageError, match=r"between 0\.05 and 120 seconds"):
        run_plan(load_plan(QUICKSTART), RunOptions(timeout=value))


INVALID = sorted((ROOT / "tests" / "scenario" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_every_invalid_scenario_exits_2_with_its_place(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error {path}"), err
    assert "Traceback" not in err


def test_set_of_an_unknown_variable_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", QUICKSTART, "--set", "PARNET=ens33"]) == 2
    err = capsys.readouterr().err
    assert "--set PARNET: the scenario has no variable 'PARNET'. Did you mean 'PARENT'?" in err
