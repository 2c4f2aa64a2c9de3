"""The HTML report in a real headless Chromium: it renders, our script runs, the scenario's
does not. Chromium comes from Debian (scripts/install-chromium.sh, run by scripts/test.sh)."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from netcheck.model.results import RunRecord
from netcheck.reports.html import HtmlReporter
from tests.helpers import ROOT

EVIL = "<script>document.title='pwned'</script>"
ARTIFACTS = ROOT / "reports" / "artifacts"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/install-chromium.sh)"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture
def failing_report(record_factory: Callable[..., RunRecord], tmp_path: Path) -> Path:
    record = record_factory(scenario=EVIL)
    assert not record.ok
    path = tmp_path / "report.html"
    HtmlReporter().write(record, path)
    return path


def test_dom_has_matrix_topology_and_no_scenario_script(
    failing_report: Path, tmp_path: Path
) -> None:
    dom = chromium(tmp_path, "--dump-dom", failing_report.as_uri()).stdout
    assert "<html" in dom
    # Our own script ran (allowed by its CSP hash) ...
    assert 'data-script="ready"' in dom
    # ... the scenario's did not: the title is the escaped name, not what the script set.
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None
    assert htmllib.unescape(title.group(1)).startswith(f"netcheck: {EVIL}")
    assert "pwned</title>" not in dom
    assert dom.count("<script") == 1
    assert 'id="matrix"' in dom
    assert re.search(r'<td class="cell o-fail">', dom)
    assert 'id="topology"' in dom
    assert 'class="arc o-fail"' in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom


def test_screenshot_is_kept_as_an_artifact(failing_report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "html-report-failing.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path, "--window-size=1400,1800", f"--screenshot={shot}", failing_report.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 1800)
    shutil.copy(failing_report, ARTIFACTS / "html-report-failing.html")
