"""Docker SDK clients: which daemon, and whether one answers."""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# Parallel container creation shares one client; requests' pool must not serialise it.
POOL_SIZE = 64


def daemon_url(docker_host: str | None) -> str:
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def make_client(docker_host: str | None, timeout: float = 60.0, verify: bool = True) -> Any:
    """A DockerClient for `docker_host` (or DOCKER_HOST, or the default socket).

    An ssh:// host goes through the machine's ssh client (sshhost.py); with `verify` an
    unreachable host, a refused login or a missing remote docker raises SshHostError here,
    with the URL and a hint, instead of a bare connection error on first use.
    """
    import docker

    url = daemon_url(docker_host)
    if url.startswith("ssh://"):
        from netcheck.runtime.docker.sshhost import ssh_client

        return ssh_client(url, timeout=timeout, pool_size=POOL_SIZE, verify=verify)
    return docker.DockerClient(
        base_url=url,
        version="auto",
        timeout=timeout,
        max_pool_size=POOL_SIZE,
    )


def docker_available(docker_host: str | None) -> bool:
    """True when a Docker daemon answers at `docker_host` (for `--runtime auto`)."""
    url = daemon_url(docker_host)
    if url.startswith("unix://") and not os.path.exists(url[len("unix://") :]):
        return False  # no socket: skip the SDK import and the connection attempt
    if url.startswith("ssh://"):
        from netcheck.runtime.docker.sshhost import SshHostError, check

        try:
            check(url, timeout=10.0)
        except SshHostError as exc:
            log.debug("%s", exc)
            return False
        return True
    try:
        import docker

        client = docker.DockerClient(base_url=url, version="auto", timeout=3)
    except ImportError:
        return False
    except Exception as exc:  # the SDK raises DockerException when version negotiation fails
        log.debug("docker at %s does not answer: %s", url, exc)
        return False
    try:
        return bool(client.ping())
    except Exception as exc:
        log.debug("docker at %s does not answer: %s", url, exc)
        return False
    finally:
        client.close()
