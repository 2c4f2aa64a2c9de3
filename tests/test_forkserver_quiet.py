"""Ctrl-C reaches the whole process group: the forkserver must ignore it from the start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

_AS_FORKSERVER = """
import signal
# What multiprocessing.forkserver.main does with its preload list, in a module of that name.
scope = {"__name__": "multiprocessing.forkserver"}
exec("def main():\\n    import netcheck._forkserver_quiet\\nmain()", scope)
print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
"""


def test_import_elsewhere_leaves_sigint_alone() -> None:
    import netcheck._forkserver_quiet  # noqa: F401

    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def test_preloaded_by_the_forkserver_it_ignores_sigint() -> None:
    proc = subprocess.run([sys.executable, "-c", _AS_FORKSERVER], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "True", proc.stderr


def test_ctrl_c_during_the_preload_neither_kills_nor_prints(tmp_path: Path) -> None:
    mark = tmp_path / "preloading"
    code = (
        "import multiprocessing as mp, multiprocessing.forkserver as fs, os, signal, time\n"
        "from pathlib import Path\n"
        "from netcheck.probes import pool\n"
        "ctx = mp.get_context('forkserver')\n"
        "ctx.set_forkserver_preload([*pool.PRELOAD[:-1], 'tests._slow_preload'])\n"
        "fs.ensure_running()\n"
        "pid = fs._forkserver._forkserver_pid\n"
        f"mark = Path({str(mark)!r})\n"
        "deadline = time.monotonic() + 30\n"
        "while not mark.exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "os.kill(pid, signal.SIGINT)  # what Ctrl-C at the terminal does to the group\n"
        "time.sleep(2)\n"
        "alive = os.waitpid(pid, os.WNOHANG) == (0, 0)\n"
        "print('alive' if alive else 'dead')\n"
    )
    env = {**os.environ, "NETCHECK_TEST_PRELOAD_MARK": str(mark)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert mark.exists(), "the preload never ran"
    assert proc.stdout.strip() == "alive", proc.stdout + proc.stderr
    assert "KeyboardInterrupt" not in proc.stderr
