"""The security review of SECURITY.md, as tests.

- no shell: no `shell=True`, no os.system/popen, no command given as one string or built by
  string formatting (checked on the package's AST, every call site);
- YAML is read with the safe loader only (AST: no yaml.load/unsafe_load/full_load, no
  Loader=yaml.Loader/UnsafeLoader/FullLoader);
- reports escape scenario text (HTML, JUnit XML, JSON all survive hostile text);
- reports are 0644, state files 0600;
- nothing listens in the root namespace during a run (netns and docker lab runs).
"""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from netcheck.engine import events as ev
from netcheck.runtime import state
from tests.helpers import ROOT
from tests.reliability import runs
from tests.reliability.inventory import Item

PACKAGE = ROOT / "netcheck"
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "getoutput",
                    "getstatusoutput"}
SHELL_CALLS = {("os", "system"), ("os", "popen"), ("asyncio", "create_subprocess_shell"),
               ("subprocess", "getoutput"), ("subprocess", "getstatusoutput")}
UNSAFE_YAML = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load",
               "full_load_all"}
UNSAFE_LOADERS = {"Loader", "UnsafeLoader", "FullLoader"}


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _dotted(node: ast.expr) -> tuple[str, ...]:
    if isinstance(node, ast.Attribute):
        return (*_dotted(node.value), node.attr)
    if isinstance(node, ast.Name):
        return (node.id,)
    return ()


def _stringy(node: ast.expr) -> bool:
    """A command that is one string: a literal, an f-string, '%'/'+' on strings, .format()."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return _stringy(node.left) or _stringy(node.right)
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "join") and _stringy_receiver(node.func.value))


def _stringy_receiver(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _shell_problems() -> list[str]:
    problems = []
    for path, tree in _sources():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            line = f"{where}:{node.lineno}"
            if name[-2:] in SHELL_CALLS:
                problems.append(f"{line}: {'.'.join(name)} runs a shell")
            for kw in node.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    problems.append(f"{line}: shell= other than False")
            is_subprocess = name[-1:] and name[-1] in SUBPROCESS_CALLS and (
                len(name) == 1 or name[-2] in ("subprocess", "sp")
            )
            is_exec = len(name) == 2 and name[0] == "os" and name[1].startswith(("exec", "spawn"))
            if (is_subprocess or is_exec) and node.args:
                first = node.args[1] if is_exec and len(node.args) > 1 else node.args[0]
                if _stringy(first):
                    problems.append(f"{line}: command given as one (formatted) string")
            for kw in node.keywords:
                if kw.arg == "args" and is_subprocess and _stringy(kw.value):
                    problems.append(f"{line}: args= given as one string")
    return problems


def test_no_shell_and_no_formatted_commands() -> None:
    assert _shell_problems() == []


def test_the_shell_check_catches_what_it_must() -> None:
    """The AST check itself: each of these forms must be reported."""
    bad = [
        "import subprocess\nsubprocess.run('ls -l', shell=True)\n",
        "import subprocess\nsubprocess.run(f'ip link del {x}')\n",
        "import subprocess\nsubprocess.Popen('ip %s' % x)\n",
        "import subprocess\nsubprocess.check_output('ip ' + x)\n",
        "import subprocess\nsubprocess.call('ip {}'.format(x))\n",
        "import os\nos.system('reboot')\n",
        "import subprocess\nsubprocess.run(argv, shell=flag)\n",
    ]
    for text in bad:
        tree = ast.parse(text)
        found = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                found |= name[-2:] in SHELL_CALLS
                found |= any(kw.arg == "shell" for kw in node.keywords)
                found |= bool(name and name[-1] in SUBPROCESS_CALLS and node.args
                              and _stringy(node.args[0]))
        assert found, text


def test_yaml_safe_loading_only() -> None:
    problems = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                if len(name) == 2 and name[0] == "yaml" and name[1] in UNSAFE_YAML:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: yaml.{name[1]}")
                for kw in node.keywords:
                    if kw.arg == "Loader" and _dotted(kw.value)[-1:] and (
                        _dotted(kw.value)[-1] in UNSAFE_LOADERS
                    ):
                        problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: Loader="
                                        f"{'.'.join(_dotted(kw.value))}")
            if isinstance(node, ast.ImportFrom) and node.module == "yaml":
                for alias in node.names:
                    if alias.name in UNSAFE_YAML | UNSAFE_LOADERS:
                        problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                                        f"from yaml import {alias.name}")
    assert problems == []


# --- reports --------------------------------------------------------------------------------------

EVIL = "<script>alert(1)</script>]]><x y='&amp;'>\"--"


def _evil_scenario(tmp_path: Path) -> Path:
    text = runs.QUICKSTART.read_text()
    quoted = json.dumps(EVIL)
    text = text.replace(
        "description: macvlan bridge on a lab LAN; containers reach each other, the gateway and "
        "a NAS, not their own host", f"description: {quoted}")
    # `reason:` must now name a known finding, so the text goes where free text is allowed:
    # the scenario's name (JSON, JUnit suite, HTML title) and descriptions.
    text = text.replace("name: quickstart", f"name: {quoted}", 1)
    text = text.replace("    reason: macvlan-host-isolation",
                        f"    reason: macvlan-host-isolation\n    description: {quoted}")
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    return path


@pytest.mark.privileged
def test_reports_escape_scenario_text_and_are_0644(
    tmp_path: Path, clean_machine: frozenset[Item]
) -> None:
    scenario = _evil_scenario(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ}
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o077); from netcheck.cli.main "
         "import main; sys.exit(main(sys.argv[1:]))", "run", str(scenario), "--runtime",
         "netns", "--json", str(out / "r.json"), "--junit", str(out / "r.xml"), "--html",
         str(out / "r.html")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    html = (out / "r.html").read_text()
    assert "<script>alert(1)" not in html
    assert "<x y=" not in html
    assert "&lt;script&gt;alert(1)" in html, "the text is gone rather than escaped"
    ElementTree.parse(out / "r.xml")  # well-formed despite ']]>' and '<'
    assert EVIL in (out / "r.xml").read_text().replace("&lt;", "<").replace(
        "&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")
    record = json.loads((out / "r.json").read_text())
    assert any(EVIL in text for text in _strings(record)), "JSON lost the text"
    for name in ("r.json", "r.xml", "r.html"):
        mode = stat.S_IMODE((out / name).stat().st_mode)
        assert mode == 0o644, f"{name}: {oct(mode)} (umask 077 in the run)"


def test_a_hostile_reason_is_refused_at_validate_without_a_traceback(tmp_path: Path) -> None:
    text = runs.QUICKSTART.read_text().replace(
        "    reason: macvlan-host-isolation", f"    reason: {json.dumps(EVIL)}")
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "validate", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{path}:" in proc.stderr and "is not a finding netcheck can report" in proc.stderr


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.privileged
def test_state_files_are_0600(clean_machine: frozenset[Item]) -> None:
    modes: list[int] = []

    def look(event: ev.Event) -> None:
        if isinstance(event, ev.PhaseStarted) and event.phase == "listen":
            for run_id in state.run_ids():
                st = state.read(run_id)
                if st is not None and st.pid == os.getpid():
                    modes.append(stat.S_IMODE(state.state_path(run_id).stat().st_mode))

    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.runtime.naming import new_run_id

    run_plan(runs.quickstart(), RunOptions(runtime="netns", run_id=new_run_id()), look)
    assert modes == [0o600]


# --- listening sockets ------------------------------------------------------------------------

def _listening() -> set[str]:
    """TCP sockets in LISTEN and bound UDP sockets of this (the root) network namespace."""
    found = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/self/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if proto.startswith("tcp") and f[3] != "0A":
                continue
            found.add(f"{proto} {f[1]} inode {f[9]}")
    return found


def _probe_time_listeners(runtime: str) -> tuple[set[str], set[str]]:
    before = _listening()
    during: set[str] = set()
    seen = False

    def look(event: ev.Event) -> None:
        nonlocal during, seen
        if isinstance(event, ev.Progress) and event.phase == "probe" and not seen:
            seen = True  # responders (and any lab dockerd) are up now
            during = _listening()

    from netcheck.engine.run import RunOptions, run_plan
    from netcheck.runtime.naming import new_run_id

    record = run_plan(runs.quickstart(), RunOptions(runtime=runtime, run_id=new_run_id()), look)
    assert record.ok
    assert seen
    return before, during


@pytest.mark.privileged
def test_nothing_listens_in_the_root_namespace_netns(clean_machine: frozenset[Item]) -> None:
    before, during = _probe_time_listeners("netns")
    # Other processes on the machine may open sockets meanwhile; ours would be on the
    # responders' ports (tcp/80, tcp/445: 0050, 01BD) or swarm's 2377 (0949).
    new = {s for s in during - before if any(f":{p} " in s + " " for p in ("0050", "01BD",
                                                                          "0949"))}
    assert not new, new


@pytest.mark.privileged
@pytest.mark.docker
def test_nothing_listens_in_the_root_namespace_docker(
    clean_machine: frozenset[Item], dockerd: None, docker_client: object
) -> None:
    before, during = _probe_time_listeners("docker")
    new = {s for s in during - before if any(f":{p} " in s + " " for p in ("0050", "01BD",
                                                                          "0949"))}
    assert not new, new
