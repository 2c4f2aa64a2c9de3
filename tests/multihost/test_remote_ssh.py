"""ssh:// Docker hosts, for real: netcheck -> ssh -> sshd in a lab namespace -> `docker system
dial-stdio` -> the lab's dockerd. netcheck runs in the client namespace of the remote lab
(tests/multihost/remotelab.py); the sshd listens on the server namespace's address only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.runtime.docker.sshhost import SshHostError, SshTarget, _explain, parse_ssh_url
from tests.multihost.remotelab import SERVER_IP, RemoteLab
from tests.multihost.sshd import SshServer, netcheck_in, ssh_remote_lab, wrong_client
from tests.multihost.test_remote import SCENARIO, assert_remote_run


def test_ssh_urls_parse_into_ssh_arguments() -> None:
    t = parse_ssh_url("ssh://deploy@docker1.example:2222")
    assert t == SshTarget(host="docker1.example", user="deploy", port=2222)
    argv = t.argv("docker system dial-stdio")
    # netcheck's options come before the host, so ~/.ssh/config cannot undo them
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    assert argv[-7:-3] == ["-l", "deploy", "-p", "2222"]
    assert argv[-3:] == ["--", "docker1.example", "docker system dial-stdio"]
    # an alias from ~/.ssh/config: no user, no port; ssh fills them in
    assert parse_ssh_url("ssh://lab-a").argv("x")[-3:] == ["--", "lab-a", "x"]
    assert "-l" not in parse_ssh_url("ssh://lab-a").argv("x")
    for bad in ("ssh://", "tcp://h:2375", "ssh://h/path", "ssh://h:notaport"):
        with pytest.raises(SshHostError, match="ssh"):
            parse_ssh_url(bad)


def test_ssh_failures_are_explained_with_the_url_and_a_hint() -> None:
    url, t = "ssh://root@h", parse_ssh_url("ssh://root@h")
    ok = b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\n\r\nOK"
    assert _explain(url, t, 0, ok, "") is None
    denied = _explain(url, t, 255, b"", "root@h: Permission denied (publickey).\n")
    assert denied is not None and denied.startswith("cannot log in to the Docker host ssh://")
    assert "Permission denied (publickey)" in denied and "ssh -o BatchMode=yes root@h" in denied
    no_cli = _explain(url, t, 127, b"", "bash: line 1: docker: command not found\n")
    assert no_cli is not None and "no docker CLI" in no_cli and "docker.io" in no_cli
    no_daemon = _explain(url, t, 1, b"", "Cannot connect to the Docker daemon at unix://x\n")
    assert no_daemon is not None and "not its Docker daemon" in no_daemon
    assert "DOCKER_HOST" in no_daemon


@pytest.fixture
def ssh_lab(tmp_path: Path) -> Iterator[tuple[RemoteLab, SshServer]]:
    with ssh_remote_lab(tmp_path / "sshd") as both:
        yield both


def _objects_on(lab: RemoteLab, label: str) -> tuple[list[Any], list[Any]]:
    import docker

    client = docker.DockerClient(base_url=lab.daemon.url, version="auto")
    try:
        return (client.containers.list(all=True, filters={"label": label}),
                client.networks.list(filters={"label": label}))
    finally:
        client.close()


@pytest.mark.privileged
@pytest.mark.docker
@pytest.mark.slow
def test_ssh_host_probed_through_sidecars(
    ssh_lab: tuple[RemoteLab, SshServer], tmp_path: Path
) -> None:
    lab, server = ssh_lab
    scenario = tmp_path / "remote-ssh.yaml"
    scenario.write_text(SCENARIO.replace("URL", server.url).replace("remote-tcp", "remote-ssh"))
    record = tmp_path / "run.json"
    proc = netcheck_in(lab, server.client.env(), "run", str(scenario), "--json", str(record))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = assert_remote_run(record, server.url)
    # The chain really went through this sshd, with the test's key.
    assert "Accepted publickey for root from 10.99.0.2" in server.log.read_text()
    # Nothing of the run is left on the remote daemon: containers, sidecars, networks.
    assert _objects_on(lab, f"io.netcheck.run={data['run_id']}") == ([], [])


@pytest.mark.privileged
@pytest.mark.docker
def test_ssh_host_refusing_us_is_a_clear_error_and_nothing_is_built(
    ssh_lab: tuple[RemoteLab, SshServer], tmp_path: Path
) -> None:
    lab, server = ssh_lab
    wrong = wrong_client(tmp_path)
    cases = {
        server.url: (wrong.env(), "Permission denied (publickey)"),
        f"ssh://root@{SERVER_IP}:2222": (server.client.env(), "Connection refused"),
    }
    for url, (env, said) in cases.items():
        scenario = tmp_path / "bad.yaml"
        scenario.write_text(SCENARIO.replace("URL", url))
        proc = netcheck_in(lab, env, "run", str(scenario), "--no-reports", timeout=120)
        assert proc.returncode == 3, proc.stdout + proc.stderr
        text = " ".join((proc.stdout + proc.stderr).split())  # rich wraps long lines
        assert f"cannot log in to the Docker host {url} over ssh" in text, text
        assert said in text and "Hint: check that `ssh -o BatchMode=yes root@" in text, text
        assert "Traceback" not in text
    # nothing was created on the remote daemon, by any run
    assert _objects_on(lab, "io.netcheck.run") == ([], [])
