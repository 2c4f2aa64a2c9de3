"""Entry point of the probe image: runs inside a sidecar that shares a container's netns.

`probe`: tasks come in the NETCHECK_AGENT_INPUT environment variable (base64 pickle of
(tasks, timeout), written by netcheck itself); the WorkerReport goes out as the last stdout
line (base64 pickle, read back by remote.py through a restricted unpickler).
`listen`: binds the ports given as arguments (tcp/80 udp/53), prints "ready", and serves
until the container is removed; the same responder code as in local namespaces.
"""

from __future__ import annotations

import base64
import os
import pickle
import sys
from typing import Any

INPUT_ENV = "NETCHECK_AGENT_INPUT"
READY = "netcheck-agent: ready"
REPORT = "netcheck-agent: report "
OWN_NETNS = "/proc/self/ns/net"


class _StdoutConn:
    """What responders.serve needs of a Connection: send, close, and a never-ready fileno."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()  # the write end stays open: serve() never sees EOF

    def send(self, msg: Any) -> None:
        if msg[0] == "ready":
            print(READY, flush=True)
        else:
            print(f"netcheck-agent: {msg[0]}: {msg[1]}", file=sys.stderr, flush=True)

    def fileno(self) -> int:
        return self._r

    def close(self) -> None:
        pass


def _stay_here(path: str, inode: int | None = None) -> None:
    """The sidecar already lives in the target's netns, and setns would need SYS_ADMIN."""


def _probe() -> int:
    from netcheck.probes import worker

    worker.enter_netns = _stay_here  # type: ignore[attr-defined]
    probe_namespace = worker.probe_namespace
    # Written by netcheck itself for this container (remote.probe_remote): trusted input.
    tasks, timeout = pickle.loads(base64.b64decode(os.environ[INPUT_ENV]))  # noqa: S301
    report = probe_namespace(OWN_NETNS, tasks, timeout)
    print(REPORT + base64.b64encode(pickle.dumps(report)).decode(), flush=True)
    return 0


def _listen(ports_text: list[str]) -> int:
    from netcheck.model.plan import Port, ProbeKind
    from netcheck.model.sites import NamespacePath
    from netcheck.probes import responders

    ports = []
    for text in ports_text:
        proto, _, number = text.partition("/")
        ports.append(Port(proto=ProbeKind(proto), number=int(number)))
    responders.enter_netns = _stay_here  # type: ignore[attr-defined]
    responders.serve_local(_StdoutConn(), NamespacePath(path=OWN_NETNS), ports)  # type: ignore[arg-type]
    return 1  # serve returns only when its bind failed


def main(argv: list[str]) -> int:
    if argv[:1] == ["probe"]:
        return _probe()
    if argv[:1] == ["listen"]:
        return _listen(argv[1:])
    print("usage: agent probe | agent listen tcp/80 udp/53 ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
