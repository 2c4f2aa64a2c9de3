"""`ssh://user@host[:port]` Docker hosts: the Engine API over `ssh … docker system dial-stdio`.

The same chain the docker CLI uses, with the machine's own `ssh` client, so whatever a
user's `ssh user@host` does applies unchanged: ~/.ssh/config (Host aliases, IdentityFile,
ProxyJump, ControlMaster), ssh-agent, known_hosts. netcheck only adds `BatchMode=yes` (a
run never stops at a password or host-key prompt) and a connect timeout.

Why not the SDK's own ssh transport: its paramiko mode reads only part of ~/.ssh/config,
and its shell-out mode (`use_ssh_client=True`) starts a fresh ssh for every API request
without ever reusing or closing it, ignores timeouts, and still needs paramiko installed.
Here a private unix socket stands in for the daemon instead (`SshBridge`): the SDK talks
plain HTTP to it with its normal connection pool and timeouts, and every connection the
pool opens is one `ssh … docker system dial-stdio` process, ended with the connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.parse
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from netcheck.errors import EnvironmentProblem
from netcheck.runtime.naming import SSH_DIR_PREFIX
from netcheck.sigmask import signals_blocked

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
CHECK_TIMEOUT_S = 30.0
DIAL_STDIO = "docker system dial-stdio"
_PING = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"
_CHUNK = 65536


class SshHostError(EnvironmentProblem):
    """An ssh:// Docker host that cannot be reached, logged into, or has no Docker."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SshTarget:
    host: str
    user: str | None = None
    port: int | None = None

    def argv(self, command: str) -> list[str]:
        """`ssh` for one remote command, options first so the user's config can't override
        them (ssh keeps the first value it sees for an option)."""
        out = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
               "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if self.user:
            out += ["-l", self.user]
        if self.port:
            out += ["-p", str(self.port)]
        return [*out, "--", self.host, command]


def parse_ssh_url(url: str) -> SshTarget:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise SshHostError(f"{url}: bad port: {exc}") from exc
    if parts.scheme != "ssh" or not parts.hostname or parts.path not in ("", "/"):
        raise SshHostError(f"{url}: not an ssh Docker URL. Write ssh://user@host or "
                           "ssh://user@host:port")
    return SshTarget(host=parts.hostname, user=parts.username, port=port)


HINT = ("check that `ssh -o BatchMode=yes {target} docker version` works from this "
        "machine: a key in ssh-agent or an IdentityFile in ~/.ssh/config, the host in "
        "known_hosts, and a remote user that may use Docker (docker group, or DOCKER_HOST "
        "set for its ssh sessions)")


def _explain(url: str, target: SshTarget, rc: int, stdout: bytes, stderr: str) -> str | None:
    """None when the daemon answered the ping; else what went wrong, and where."""
    head = stdout.split(b"\r\n", 1)[0]
    if rc == 0 and head.startswith(b"HTTP/1.") and b" 200 " in head:
        return None
    said = " | ".join(stderr.strip().splitlines()[-3:]).rstrip(".") or f"exit status {rc}"
    who = f"{target.user}@{target.host}" if target.user else target.host
    hint = HINT.format(target=who)
    if rc == 255:
        return f"cannot log in to the Docker host {url} over ssh: {said}. Hint: {hint}"
    if rc == 127 or "not found" in said:
        return (f"the Docker host {url} has no docker CLI for `{DIAL_STDIO}`: {said}. "
                "Hint: install the docker CLI (Debian: docker.io) on that host")
    return f"the Docker host {url} answered ssh, but not its Docker daemon: {said}. Hint: {hint}"


def check(url: str, timeout: float = CHECK_TIMEOUT_S) -> None:
    """One `GET /_ping` through the very chain the SDK will use; SshHostError when it fails."""
    target = parse_ssh_url(url)
    argv = target.argv(DIAL_STDIO)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise SshHostError(f"cannot reach the Docker host {url}: no ssh client ({exc}). "
                           "Hint: apt-get install openssh-client") from exc
    try:
        out, err = proc.communicate(_PING, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise SshHostError(f"the Docker host {url} did not answer within {timeout:.0f} s "
                           f"over ssh. Hint: {HINT.format(target=target.host)}") from exc
    problem = _explain(url, target, proc.returncode, out, err.decode(errors="replace"))
    if problem is not None:
        raise SshHostError(problem)
    log.debug("docker over ssh answers at %s", url)




class SshBridge:
    """A unix socket in a private directory; each connection to it is one
    `ssh … docker system dial-stdio` on the remote host."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = parse_ssh_url(url)
        # 0700: ours alone. The pid lets `netcheck clean` sweep it after a killed worker.
        self._dir = Path(tempfile.mkdtemp(prefix=f"{SSH_DIR_PREFIX}{os.getpid()}-"))
        self.path = self._dir / "docker.sock"
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(64)
        with signals_blocked():
            threading.Thread(target=self._accept, name="ssh-bridge", daemon=True).start()

    @property
    def docker_url(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        n = 0
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            n += 1
            try:
                self._connect(conn, self._dir / f"ssh-{n}.err")
            except OSError as exc:
                log.warning("ssh to %s: %s", self.url, exc)
                conn.close()

    def _connect(self, conn: socket.socket, errfile: Path) -> None:
        with errfile.open("wb") as err, self._lock:
            if self._closed:
                conn.close()
                return
            # A session of its own: Ctrl-C at the terminal must not cut the connections
            # teardown still needs.
            proc = subprocess.Popen(self.target.argv(DIAL_STDIO), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, start_new_session=True)
            self._procs.add(proc)
        assert proc.stdin is not None and proc.stdout is not None
        with signals_blocked():
            threading.Thread(target=self._upstream, args=(conn, proc.stdin),
                             daemon=True).start()
            threading.Thread(target=self._downstream, args=(conn, proc, errfile),
                             daemon=True).start()

    @staticmethod
    def _upstream(conn: socket.socket, stdin: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            while data := conn.recv(_CHUNK):
                stdin.write(data)
                stdin.flush()
        with contextlib.suppress(OSError, ValueError):
            stdin.close()  # ssh passes the EOF on; dial-stdio half-closes the daemon's side

    def _downstream(self, conn: socket.socket, proc: subprocess.Popen[bytes],
                    errfile: Path) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        with contextlib.suppress(OSError):
            while data := os.read(fd, _CHUNK):
                conn.sendall(data)
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        try:
            rc = proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        proc.stdout.close()
        if rc not in (0, -15) and not self._closed:
            text = errfile.read_text(errors="replace").strip() if errfile.exists() else ""
            log.warning("ssh to %s ended with %d: %s", self.url, rc, text[-300:])
        with contextlib.suppress(OSError):
            errfile.unlink()
        with self._lock:
            self._procs.discard(proc)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            procs = list(self._procs)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        self._listener.close()
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)
        shutil.rmtree(self._dir, ignore_errors=True)


def _one_pool(api: Any, socket: Path, timeout: float, pool_size: int) -> None:
    """Give `api` one connection pool for every request path.

    The SDK's unix adapter keys its pools by the full request URL, so each new API path
    (containers/create, …/start, …/wait, …/logs) opens a new connection: free on a local
    socket, a full ssh login here (0.3-0.8 s measured on a loaded 2-core machine).
    """
    from docker.transport import UnixHTTPAdapter

    class SharedPool(UnixHTTPAdapter):  # type: ignore[misc]
        def get_connection(self, url: str, proxies: Any = None) -> Any:
            return super().get_connection("http+docker://localhost", proxies)

    old = api._custom_adapter
    adapter = SharedPool(f"http+unix://{socket}", timeout, max_pool_size=pool_size)
    api.mount("http+docker://", adapter)
    api._custom_adapter = adapter  # the SDK's get_adapter() answers with this one
    with contextlib.suppress(Exception):
        old.close()


def ssh_client(url: str, timeout: float, pool_size: int, verify: bool = True) -> Any:
    """A DockerClient for an ssh:// URL; with `verify`, SshHostError unless it answers."""
    import docker

    if verify:
        check(url)
    bridge = SshBridge(url)
    try:
        client = docker.DockerClient(base_url=bridge.docker_url, version="auto",
                                     timeout=timeout, max_pool_size=pool_size)
    except BaseException:
        bridge.close()
        raise
    _one_pool(client.api, bridge.path, timeout, pool_size)
    # The client's close() ends the bridge (and its ssh processes) too; so does exit.
    close = client.close

    def close_both() -> None:
        try:
            close()
        finally:
            bridge.close()

    client.close = close_both
    weakref.finalize(client, bridge.close)
    return client
