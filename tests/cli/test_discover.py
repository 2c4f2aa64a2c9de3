"""`netcheck discover` arguments and errors (no daemon needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.cli.main import main


def test_daemon_unreachable_is_exit_3_with_the_url_and_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"unix://{tmp_path}/no-docker.sock"
    out = tmp_path / "s.yaml"
    assert main(["discover", "--docker-host", url, "-o", str(out)]) == 3
    err = capsys.readouterr().err.replace("\n", "")  # rich wraps long lines
    assert url in err and "--docker-host" in err
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize(("args", "what"), [
    (["--timeout", "0"], "--timeout"),
    (["--name", "bad name"], "--name"),
])
def test_bad_arguments_are_exit_2(
    args: list[str], what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", *args]) == 2
    assert what in capsys.readouterr().err
