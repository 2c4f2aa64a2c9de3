"""The ssh:// bridge without root or sshd: a stand-in `ssh` on PATH that speaks the Engine
API's HTTP itself (as `docker system dial-stdio` relays it), and logs each start."""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from netcheck.runtime.docker.client import docker_available, make_client
from netcheck.runtime.docker.sshhost import SshHostError, check

FAKE_SSH = """\
#!{python}
import json, os, sys
with open({log!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_SSH_MODE", "ok")
if mode == "denied":
    sys.stderr.write("root@far: Permission denied (publickey).\\n")
    sys.exit(255)
if mode == "nodocker":
    sys.stderr.write("bash: line 1: docker: command not found\\n")
    sys.exit(127)
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    path = line.split()[1].decode()
    while inp.readline() not in (b"\\r\\n", b""):
        pass
    if path.endswith("/_ping"):
        body = b"OK"
    else:
        body = json.dumps({{"Version": "99.0.0", "ApiVersion": "1.41"}}).encode()
    keep = not line.rstrip().endswith(b"HTTP/1.0")
    out.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
    out.flush()
    if not keep:
        break
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ssh.log"
    script = bin_dir / "ssh"
    script.write_text(textwrap.dedent(FAKE_SSH.format(python="/usr/bin/env python3",
                                                      log=str(log))))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log


def _ssh_children() -> list[int]:
    """Our child processes that are (fake) `ssh … docker system dial-stdio`."""
    me, out = os.getpid(), []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        if ppid == me and b"dial-stdio" in argv:
            out.append(int(entry.name))
    return out


def _bridge_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("netcheck-ssh-*"))


def test_api_calls_share_one_ssh_connection_and_close_ends_it(fake_ssh: Path) -> None:
    before = _bridge_dirs()
    client = make_client("ssh://root@far:2222")
    for _ in range(3):
        assert client.ping()
        assert client.version()["Version"] == "99.0.0"
    starts = fake_ssh.read_text().splitlines()
    # one login check, one for the SDK's version negotiation, one for every call after
    assert len(starts) == 3, starts
    assert all(s.startswith("-o BatchMode=yes -o ConnectTimeout=10") for s in starts)
    assert all(s.endswith("-l root -p 2222 -- far docker system dial-stdio") for s in starts)
    ours = _bridge_dirs() - before
    assert len(ours) == 1 and _ssh_children()
    client.close()
    deadline = time.monotonic() + 10
    while _ssh_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ssh_children() == []
    assert not any(p.exists() for p in ours)


def test_refused_login_and_missing_docker_are_named(
    fake_ssh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SSH_MODE", "denied")
    with pytest.raises(SshHostError, match=r"cannot log in to the Docker host ssh://root@far "
                       r"over ssh: root@far: Permission denied \(publickey\)\. Hint: check"):
        make_client("ssh://root@far")
    assert not docker_available("ssh://root@far")
    monkeypatch.setenv("FAKE_SSH_MODE", "nodocker")
    with pytest.raises(SshHostError, match="has no docker CLI"):
        check("ssh://root@far")
    monkeypatch.setenv("FAKE_SSH_MODE", "ok")
    assert docker_available("ssh://root@far")
