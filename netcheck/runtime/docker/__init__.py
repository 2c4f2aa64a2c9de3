"""The `docker` runtime: real containers on real Docker networks (see runtime.py)."""

from __future__ import annotations

from netcheck.runtime.base import register
from netcheck.runtime.docker.clean import clean_docker
from netcheck.runtime.docker.client import docker_available
from netcheck.runtime.docker.runtime import DockerRuntime

register("docker", DockerRuntime)

__all__ = ["DockerRuntime", "clean_docker", "docker_available"]
