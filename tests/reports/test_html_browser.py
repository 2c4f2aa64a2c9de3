"""The HTML report in a real headless Chromium: it renders, our script runs, the scenario's
does not, and its filters work when clicked. Chromium comes from Debian
(scripts/install-chromium.sh, run by scripts/test.sh); the live tests speak the DevTools
protocol to it over a websocket on 127.0.0.1 (websocket-client, in the test extras)."""

from __future__ import annotations

import base64
import contextlib
import html as htmllib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websocket

from netcheck.model.results import Outcome, RunRecord
from netcheck.reports.html import HtmlReporter
from tests.helpers import ROOT

EVIL = "<script>document.title='pwned'</script>"
ARTIFACTS = ROOT / "reports" / "artifacts"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/install-chromium.sh)"
)


def _command(profile: Path) -> list[str]:
    assert CHROMIUM is not None
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [*_command(tmp_path / "profile"), *args]
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


# --- a live session over the Chrome DevTools Protocol -------------------------------------

EVIL_HANDLER = '<b id="evil" onclick="window.pwned=1;document.title=\'pwned\'">evil</b>'
LAUNCH_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0
EVENT_TIMEOUT_S = 10.0


class CdpError(RuntimeError):
    pass


class Cdp:
    """A minimal CDP client over websocket-client: commands by id, events kept in order."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.last_id = 0
        self.events: list[dict[str, Any]] = []

    def _recv(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from chromium in time")
        self.ws.settimeout(left)
        message: dict[str, Any] = json.loads(self.ws.recv())
        return message

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        ident = self.last_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while True:
            reply = self._recv(deadline)
            if reply.get("id") != ident:
                if "method" in reply:
                    self.events.append(reply)
                continue
            if "error" in reply:
                raise CdpError(f"{method}: {reply['error']}")
            result: dict[str, Any] = reply.get("result", {})
            return result

    def wait_event(
        self, method: str, match: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The first event of `method` (already seen or still to come) that `match`es."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and match(event.get("params", {})):
                    self.events.remove(event)
                    return event
            seen = len(self.events)
            try:
                reply = self._recv(deadline)
            except (TimeoutError, websocket.WebSocketTimeoutException):
                raise AssertionError(f"no matching {method} event from chromium") from None
            if "method" in reply:
                self.events.append(reply)


@dataclass
class Page:
    """One tab of the live browser, attached with a flat session."""

    cdp: Cdp
    session: str

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.cdp.call(method, self.session, **params)

    def js(self, expression: str) -> Any:
        """Evaluate in the page; values come back as JSON."""
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise CdpError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def load(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.cdp.wait_event("Page.loadEventFired", lambda _: True)

    def click(self, selector: str) -> None:
        """A real left click (pressed + released) at the middle of the element."""
        box = self.js(
            f"(function () {{ var el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'});"
            " var r = el.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                buttons=1 if kind == "mousePressed" else 0,
                clickCount=1,
            )


def _listening_on_loopback(port: int) -> bool:
    """The port is a listening socket bound to 127.0.0.1 only (per /proc/net/tcp)."""
    wanted = f":{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and local.endswith(wanted):
            return local == "0100007F" + wanted
    return False


@pytest.fixture
def live_page(tmp_path: Path) -> Iterator[Page]:
    """Chromium with its DevTools endpoint on 127.0.0.1 (a free port it picks), stopped by PID."""
    assert CHROMIUM is not None
    profile = tmp_path / "live-profile"
    proc = subprocess.Popen(
        [
            *_command(profile),
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helpers share the group: stopped by that id below
    )
    ws: websocket.WebSocket | None = None
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        lines: list[str] = []
        while len(lines) < 2:
            assert proc.poll() is None, f"chromium exited with {proc.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            if active.exists():
                lines = active.read_text().splitlines()
            time.sleep(0.05)
        port, path = int(lines[0]), lines[1]
        assert _listening_on_loopback(port)
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=CALL_TIMEOUT_S, suppress_origin=True
        )
        cdp = Cdp(ws)
        target = cdp.call("Target.createTarget", url="about:blank")["targetId"]
        session = cdp.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(cdp=cdp, session=session)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=1400,
            height=1800,
            deviceScaleFactor=1,
            mobile=False,
        )
        yield page
    finally:
        if ws is not None:
            with contextlib.suppress(Exception):
                Cdp(ws).call("Browser.close")
            ws.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        # Renderer and zygote helpers are in the group named by our child's PID.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _expected_cells(
    record: RunRecord, kinds: set[str], only_bad: bool = False
) -> dict[tuple[str, str], set[str]]:
    """(source, target) -> outcomes of the verdicts the filter leaves, from the verdicts."""
    cells: dict[tuple[str, str], set[str]] = {}
    for v in record.verdicts:
        probe, _, path = v.expectation_id.partition(":")
        source, _, target = path.partition("->")
        if not target or probe.split("/")[0] not in kinds:
            continue
        if only_bad and v.outcome not in (Outcome.FAIL, Outcome.ERROR):
            continue
        cells.setdefault((source, target.split("@")[0]), set()).add(v.outcome.value)
    return cells


SHOWN_CELLS = """(function () {
  var heads = Array.from(document.querySelectorAll('#matrix thead th[scope=col]'));
  var out = [];
  document.querySelectorAll('#matrix tbody tr').forEach(function (row) {
    var source = row.querySelector('th').textContent;
    row.querySelectorAll('td.cell').forEach(function (cell, i) {
      var chips = Array.from(cell.querySelectorAll('a.chip'))
        .filter(function (c) { return c.getClientRects().length > 0; })
        .map(function (c) { return c.getAttribute('data-outcome'); });
      if (cell.getClientRects().length > 0 && chips.length > 0) {
        out.push({source: source, target: heads[i].textContent, outcomes: chips,
                  cls: cell.className});
      }
    });
  });
  return out;
})()"""


def _shown(page: Page) -> dict[tuple[str, str], set[str]]:
    cells = page.js(SHOWN_CELLS)
    out: dict[tuple[str, str], set[str]] = {}
    for c in cells:
        worst = next(o for o in ("fail", "error", "skip", "pass") if o in c["outcomes"])
        assert f"o-{worst}" in c["cls"].split(), c  # the cell takes its worst shown outcome
        out[(c["source"], c["target"])] = set(c["outcomes"])
    return out


def _set_kinds(page: Page, wanted: set[str]) -> None:
    """Tick exactly `wanted` among the probe-type boxes, by clicking each one to change."""
    state: dict[str, bool] = page.js(
        "Object.fromEntries(Array.from(document.querySelectorAll('input.kind-filter'))"
        ".map(function (b) { return [b.value, b.checked]; }))"
    )
    for kind, checked in state.items():
        if checked != (kind in wanted):
            page.click(f'input.kind-filter[value="{kind}"]')
    after = page.js(
        "Array.from(document.querySelectorAll('input.kind-filter:checked'))"
        ".map(function (b) { return b.value; })"
    )
    assert set(after) == wanted


def test_live_filters_show_the_verdicts_of_each_probe_type(
    record_factory: Callable[..., RunRecord], live_page: Page, tmp_path: Path
) -> None:
    record = record_factory(scenario=EVIL)
    assert not record.ok
    path = tmp_path / "report.html"
    HtmlReporter().write(record, path)
    live_page.load(path.as_uri())
    assert live_page.js("document.documentElement.getAttribute('data-script')") == "ready"
    kinds = set(
        live_page.js("Array.from(document.querySelectorAll('input.kind-filter')).map(b => b.value)")
    )
    assert kinds == {"arp", "icmp", "tcp"}
    assert _shown(live_page) == _expected_cells(record, kinds)
    for kind in sorted(kinds):
        _set_kinds(live_page, {kind})
        shown = _shown(live_page)
        assert shown == _expected_cells(record, {kind}), kind
        if kind == "tcp":
            # icmp-only cells (c1 -> nas failed icmp/df) are gone with their row and column.
            assert ("c1", "nas") not in shown
            assert shown == {("c2", "c1"): {"error"}}
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            png = live_page.call("Page.captureScreenshot", format="png")["data"]
            (ARTIFACTS / "html-report-filter-tcp.png").write_bytes(base64.b64decode(png))
    _set_kinds(live_page, kinds)
    live_page.click("#only-failing")
    assert _shown(live_page) == _expected_cells(record, kinds, only_bad=True)
    _set_kinds(live_page, {"arp"})  # arp passed everywhere: nothing left
    assert _shown(live_page) == {}
    assert live_page.js("getComputedStyle(document.getElementById('matrix-empty')).display") != (
        "none"
    )
    live_page.click("#only-failing")
    _set_kinds(live_page, kinds)
    assert _shown(live_page) == _expected_cells(record, kinds)


def test_live_scenario_scripts_and_inline_handlers_never_run(
    record_factory: Callable[..., RunRecord], live_page: Page, tmp_path: Path
) -> None:
    scenario = EVIL + EVIL_HANDLER
    path = tmp_path / "report.html"
    HtmlReporter().write(record_factory(scenario=scenario), path)
    live_page.load(path.as_uri())
    title = f"netcheck: {scenario} (failed)"
    assert live_page.js("document.title") == title
    assert live_page.js("document.documentElement.getAttribute('data-script')") == "ready"
    assert live_page.js("document.scripts.length") == 1
    assert live_page.js("document.getElementById('evil')") is None  # escaped: text, not a tag
    heading = live_page.js("document.querySelector('header h1').textContent")
    assert heading == f"netcheck report: {scenario}"

    # A missed escape, simulated: the scenario text goes in as markup. Its inline handler is
    # then clicked for real; the CSP (script by hash only) must refuse to run it.
    inject = (
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " window.violations.push(e.effectiveDirective + ' ' + e.blockedURI); });"
        "var box = document.createElement('div');"
        "box.innerHTML = document.querySelector('header h1').textContent;"
        "document.querySelector('header').appendChild(box); box.children.length"
    )
    assert live_page.js(inject) == 2  # the <script> and the <b onclick>
    live_page.click("#evil")
    assert live_page.js("window.pwned === undefined") is True
    assert live_page.js("document.title") == title
    refusal = live_page.cdp.wait_event(
        "Log.entryAdded", lambda p: "inline event handler" in p["entry"]["text"]
    )
    assert "Content Security Policy" in refusal["params"]["entry"]["text"]
    assert live_page.js("window.violations") == ["script-src-attr inline"]

    # The same click without the CSP runs the handler: the check above is not vacuous.
    live_page.call("Page.setBypassCSP", enabled=True)
    live_page.load(path.as_uri())
    live_page.js(inject)
    live_page.click("#evil")
    assert live_page.js("window.pwned") == 1
