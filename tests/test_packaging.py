"""The lockfile covers pyproject.toml exactly, and the wheel is a working netcheck on its own."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import netcheck
from tests.helpers import ROOT

LOCK = ROOT / "requirements.lock"


def _pyproject() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes), from requirements.lock."""
    out: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in LOCK.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==([^ \\]+)", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            out[current] = (pin.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = out[current]
            out[current] = (version, hashes + 1)
    return out


def _wanted() -> list[Requirement]:
    project = _pyproject()
    proj = project["project"]
    assert isinstance(proj, dict)
    extras = proj["optional-dependencies"]
    build = project["build-system"]
    assert isinstance(extras, dict) and isinstance(build, dict)
    texts = [*proj["dependencies"], *build["requires"]]
    for extra in ("test", "vm"):
        texts += extras[extra]
    return [Requirement(t) for t in texts]


def test_lock_pins_every_dependency_of_pyproject_within_its_range() -> None:
    locked = _locked()
    for req in _wanted():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is in pyproject.toml but not in requirements.lock"
        version = locked[name][0]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock has {req.name}=={version}, pyproject.toml asks {req.specifier}: "
            "refresh it with `bash scripts/lock.sh`"
        )


def test_every_locked_package_is_exact_and_hashed() -> None:
    locked = _locked()
    assert len(locked) > 20  # the parse found the file's pins
    unhashed = sorted(name for name, (_, hashes) in locked.items() if hashes == 0)
    assert not unhashed, f"no --hash for {unhashed}"
    text = LOCK.read_text()
    # Every requirement line is name==version (nothing unpinned, no URLs, no index options).
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            assert re.match(r"^[A-Za-z0-9_.\-]+==[^ ]+ \\$", line), line


def test_lock_was_made_by_the_refresh_script_with_every_extra() -> None:
    header = LOCK.read_text().split("\n\n", 1)[0]
    command = next(line for line in header.splitlines() if "pip-compile" in line and "--" in line)
    script = (ROOT / "scripts" / "lock.sh").read_text()
    for flag in ("--generate-hashes", "--extra=test", "--extra=vm", "--all-build-deps"):
        assert flag in command, f"requirements.lock was not made with {flag}"
        assert flag.replace("=", " ") in script or flag in script


def test_setup_installs_from_the_lock_with_hashes_and_nothing_else() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    installs = [line.strip() for line in setup.splitlines() if "/pip install" in line]
    assert any("--require-hashes -r requirements.lock" in line for line in installs), installs
    assert any("--no-deps" in line and "-e ." in line for line in installs), installs
    assert not any(".[test]" in line or ".[vm]" in line for line in installs), installs


def test_the_version_is_written_once() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    assert "version" not in project and "version" in project["dynamic"]
    assert project["name"] != "netcheck"  # that name on PyPI is another project


@pytest.mark.slow
def test_the_wheel_is_a_working_netcheck_outside_the_checkout(tmp_path: Path) -> None:
    """What `pipx install <checkout>` installs: the wheel alone, run from elsewhere."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name.startswith(f"netcheck_lab-{netcheck.__version__}-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if ".dist-info/" in n)
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
        zf.extractall(tmp_path / "site")
    assert "netcheck/scenario/schema.json" in names and "netcheck/py.typed" in names
    assert re.search(r"^netcheck = netcheck\.cli\.main:main$", entry_points, re.M)
    assert re.search(r"^netcheck = netcheck\.pytest_plugin$", entry_points, re.M)
    # Import from the unpacked wheel only: cwd elsewhere, the checkout not on the path.
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    code = (
        "import sys, netcheck, netcheck.cli.main as m;"
        "assert netcheck.__file__.startswith(sys.argv[1]), netcheck.__file__;"
        "sys.argv = ['netcheck', 'schema']; m.main()"
    )
    # PYTHONPATH comes before the venv's editable install of the checkout on sys.path.
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "site")],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert '"$schema"' in out.stdout
