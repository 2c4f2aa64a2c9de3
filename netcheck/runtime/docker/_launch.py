"""Set the hostname of a fresh UTS namespace, then exec a program. Shell-free.

Run as a script by path (not `-m`), so starting it imports nothing from netcheck or the
Docker SDK: `python -I _launch.py HOSTNAME -- PROGRAM ARGS...`, inside `unshare --uts`.
Swarm names nodes after the hostname, so each lab daemon needs its own.
"""

import os
import socket
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: _launch.py HOSTNAME -- PROGRAM [ARGS...]\n")
        raise SystemExit(2)
    socket.sethostname(argv[0])
    os.execvp(argv[2], argv[2:])  # noqa: S606 - exec of an argument list is the point


if __name__ == "__main__":
    main(sys.argv[1:])
