"""A "remote" Docker host for tests: a dockerd in its own namespace that also listens on TCP
inside that namespace, and a client namespace wired to it. Nothing touches the root
namespace's links: netcheck runs inside the client namespace (nsenter) and reaches the
daemon at tcp://10.99.0.1:2375 over a veth between the two."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from netcheck.runtime.docker.daemon import LabDaemon

SERVER_IP = "10.99.0.1"
CLIENT_IP = "10.99.0.2"
PORT = 2375


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=10)


class TcpLabDaemon(LabDaemon):
    """A lab dockerd that also serves the API on TCP inside its own namespace."""

    tcp: str = f"tcp://{SERVER_IP}:{PORT}"

    def argv(self) -> list[str]:
        argv = LabDaemon.argv(self)
        at = argv.index("dockerd") + 1
        return [*argv[:at], "--host", self.tcp, *argv[at:]]


@dataclass(frozen=True, slots=True)
class RemoteLab:
    server_netns: str
    client_netns: str
    url: str
    daemon: LabDaemon


@contextlib.contextmanager
def remote_lab() -> Iterator[RemoteLab]:
    tag = secrets.token_hex(3)
    server, client = f"nctest-{tag}-srv", f"nctest-{tag}-cli"
    daemon: TcpLabDaemon | None = None
    try:
        _ip("netns", "add", server)
        _ip("netns", "add", client)
        _ip("-n", server, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", client)
        for ns, addr in ((server, SERVER_IP), (client, CLIENT_IP)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        daemon = TcpLabDaemon(
            run_id=f"nctest{tag}", host="far", netns=f"/run/netns/{server}",
            default_pool="10.98.0.0/16",
        )
        daemon.start()
        daemon.wait_ready()
        yield RemoteLab(
            server_netns=f"/run/netns/{server}", client_netns=f"/run/netns/{client}",
            url=f"tcp://{SERVER_IP}:{PORT}", daemon=daemon,
        )
    finally:
        if daemon is not None:
            daemon.stop()  # by PID, then its shims by PID
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
