"""`netcheck doctor` and the cheap preflight `netcheck run` does before building."""

from __future__ import annotations

import logging
import shutil

from netcheck.doctor import checks
from netcheck.doctor.base import CheckResult, Status
from netcheck.errors import EnvironmentProblem
from netcheck.model.plan import Plan

log = logging.getLogger(__name__)


SSH_SCHEMES = ("ssh://", "safe-ssh://")


def host_for(spec: str | None) -> checks.Host:
    """A testinfra host: local (default), ssh://user@h, docker://name, or any testinfra URL.

    An ssh host goes through the machine's `ssh` (~/.ssh/config, agent, known_hosts; the
    URL may add `?ssh_config=PATH&ssh_identity_file=PATH`), never prompting; it must let
    us in before any check runs, or EnvironmentProblem names it with a hint.
    """
    import testinfra  # type: ignore[import-untyped]

    url = spec or "local"
    if url == "local":
        url = "local://"
    if not url.startswith(SSH_SCHEMES):
        return testinfra.get_host(url)
    host = testinfra.get_host(url, ssh_extra_args="-o BatchMode=yes")
    try:
        host.run("true")
    except RuntimeError as exc:  # testinfra's ssh backend: ssh itself exited 255
        out = exc.args[0] if exc.args else None
        said = " | ".join(str(getattr(out, "stderr", exc)).strip().splitlines()[-3:])
        said = said.rstrip(".")
        target = url.split("://", 1)[1].split("?", 1)[0]
        raise EnvironmentProblem(
            f"doctor: cannot log in to {spec} over ssh: {said or 'ssh failed'}. Hint: check "
            f"that `ssh -o BatchMode=yes {target} true` works from this machine (a key in "
            "ssh-agent or an IdentityFile in ~/.ssh/config, the host in known_hosts), or "
            "add ?ssh_config=PATH&ssh_identity_file=PATH to the URL"
        ) from exc
    return host


def doctor(plan: Plan | None, host_spec: str | None = None,
           runtime: str | None = None) -> list[CheckResult]:
    """The full checklist for a scenario (or the machine in general, without one)."""
    host = host_for(host_spec)
    out: list[CheckResult] = [checks.check_kernel(host)]
    out += checks.check_link_kinds(host, checks.needed_kinds(plan) if (
        plan is not None and (checks.uses_real_parents(plan) or runtime == "docker"
                              or plan.runtime == "docker")
    ) else _lab_kinds(plan))
    multi_homed = plan is not None and any(len(h.uplinks) > 1 for h in plan.lab.hosts)
    if plan is not None and checks.uses_real_parents(plan):
        out += checks.check_parents(host, plan)
    out += checks.check_sysctls(host, multi_homed or plan is None)
    docker = checks.wants_docker(plan, runtime)
    out += checks.check_docker(host, required=docker)
    swarm = checks.needed_swarm_features(plan)
    if plan is None or docker or swarm:
        out += checks.check_swarm_features(host, swarm)
    if plan is not None:
        isolated = bool(plan.lab.lans) and not checks.wants_docker(plan, runtime)
        out += checks.check_overlaps(host, plan, lab_isolated=isolated)
    return out


def _lab_kinds(plan: Plan | None) -> set[str]:
    # In the netns lab a missing link kind skips the nodes that need it (kernel-feature),
    # so only what every node needs is required: nothing beyond veth/bridge.
    return set()


def run_preflight(plan: Plan, runtime: str) -> list[CheckResult]:
    """What `netcheck run` checks before building: cheap, and only what this run needs.

    The netns lab is self-contained (the machine's own NICs and routes are irrelevant), so
    there it only checks tools the scenario's lab features call; the docker runtime needs
    an answering daemon.
    """
    out: list[CheckResult] = []
    uses_firewall = any(m.firewall for m in plan.lab.machines) or any(
        h.firewall for h in plan.lab.hosts
    ) or any(r.firewall for r in plan.lab.all_routers)
    if uses_firewall and runtime in ("netns", "auto"):
        found = shutil.which("iptables") is not None and shutil.which("nsenter") is not None
        out.append(CheckResult(
            id="tool:iptables", status=Status.PASS if found else Status.FAIL, required=True,
            detail="iptables and nsenter are installed" if found
            else "the scenario's firewall rules need iptables and nsenter",
            fix="apt-get install iptables util-linux"))
    # A scenario whose Docker hosts are all remote (docker: ssh://…, tcp://…) never uses
    # this machine's daemon; the build checks each remote one as it connects.
    remote_only = bool(plan.lab.hosts) and all(h.docker_url for h in plan.lab.hosts)
    if runtime == "docker" and not remote_only:
        out += checks.check_docker(host_for(None), required=True)
    return out
