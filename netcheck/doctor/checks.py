"""Preflight checks, run through a pytest-testinfra host (local, ssh://user@h, docker://name).

Everything is read-only on the machine except the link-kind probe, which works inside a
scratch namespace `nc-<id>-probe` that it removes again.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from netcheck.doctor.base import CheckResult, Status
from netcheck.model.plan import Driver, EndpointMode, IPNetwork, Plan
from netcheck.runtime.linkkinds import LINK_KINDS, SCRATCH_VETHS
from netcheck.runtime.naming import PROBE, netns_name, new_run_id

log = logging.getLogger(__name__)

Host = Any  # testinfra.host.Host (untyped)

# The link kinds a scenario's networks may need (runtime.linkkinds has how to make each).
DOCTOR_KINDS = ("macvlan", "ipvlan", "vlan", "vxlan")
SYSCTLS = {
    "net.ipv4.ip_forward": "containers on bridge networks leave the host only with forwarding",
    "net.ipv4.conf.all.rp_filter": "1 (strict) drops replies that come back on another NIC",
    "net.ipv4.conf.all.log_martians": "1 logs what rp_filter drops (martian source ...)",
    "net.ipv4.conf.all.arp_ignore": "1/2 makes a multi-homed host answer ARP on one NIC only",
    "net.ipv4.conf.all.accept_local": "0 drops packets with a local source address",
}


def _run(host: Host, *argv: str) -> tuple[int, str, str]:
    cmd = " ".join(["%s"] * len(argv))
    try:
        out = host.run(cmd, *argv)
    except RuntimeError as exc:
        # testinfra's ssh backend raises on exit status 255, which ssh shares with the
        # remote command (`genl` without IPVS exits 255). host_for() has already logged in,
        # so it is the command's own answer: keep it as one.
        out = exc.args[0] if exc.args and hasattr(exc.args[0], "rc") else None
        if out is None:
            raise
    return int(out.rc), str(out.stdout), str(out.stderr)


def needed_kinds(plan: Plan | None) -> set[str]:
    if plan is None:
        return set()
    kinds: set[str] = set()
    for net in plan.networks:
        if net.driver is Driver.MACVLAN:
            kinds.add("macvlan")
        elif net.driver is Driver.IPVLAN:
            kinds.add("ipvlan")
        elif net.driver is Driver.OVERLAY:
            kinds.add("vxlan")
        if net.parent and "." in net.parent and uses_real_parents(plan):
            kinds.add("vlan")
    return kinds


def uses_real_parents(plan: Plan | None) -> bool:
    """Does the scenario hang networks off the machine's own interfaces? (no lab LANs)"""
    return plan is not None and not plan.lab.lans and any(n.parent for n in plan.networks)


def wants_docker(plan: Plan | None, runtime: str | None) -> bool:
    if runtime == "docker":
        return True
    return plan is not None and (plan.runtime == "docker"
                                 or any(h.docker_url for h in plan.lab.hosts))


def check_kernel(host: Host) -> CheckResult:
    rc, out, err = _run(host, "uname", "-r")
    if rc != 0:
        return CheckResult(id="kernel", status=Status.FAIL, detail=f"uname -r: {err.strip()}")
    release = out.strip()
    m = re.match(r"(\d+)\.(\d+)", release)
    if m and (int(m[1]), int(m[2])) < (4, 9):
        return CheckResult(id="kernel", status=Status.WARN, detail=f"kernel {release}",
                           fix="macvlan/ipvlan modes and drop reasons need a newer kernel")
    drop_reasons = bool(m and (int(m[1]), int(m[2])) >= (5, 17))
    note = "" if drop_reasons else " (no kfree_skb drop reasons before 5.17)"
    return CheckResult(id="kernel", status=Status.PASS, detail=f"kernel {release}{note}")


def check_link_kinds(host: Host, needed: Iterable[str]) -> list[CheckResult]:
    """Create each link kind in a scratch namespace: what fails is missing."""
    needed = set(needed)
    ns = netns_name(new_run_id(), PROBE)
    out: list[CheckResult] = []
    rc, _, err = _run(host, "ip", "netns", "add", ns)
    if rc != 0:
        return [CheckResult(id="netns", status=Status.FAIL, required=True,
                            detail=f"cannot create a network namespace: {err.strip()}",
                            fix="run as root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")]
    try:
        for lower in SCRATCH_VETHS:
            rc, _, err = _run(host, "ip", "-n", ns, "link", "add", lower, "type", "veth",
                              "peer", "name", f"{lower[0]}1")
            if rc != 0:
                return [CheckResult(id="link:veth", status=Status.FAIL, required=True,
                                    detail=f"veth: {err.strip()}", fix="CONFIG_VETH")]
        for kind in DOCTOR_KINDS:
            rc, _, err = _run(host, "ip", "-n", ns, *LINK_KINDS[kind].ip_argv())
            if rc == 0:
                out.append(CheckResult(id=f"link:{kind}", status=Status.PASS,
                                       detail=f"{kind} links can be created"))
            else:
                out.append(CheckResult(
                    id=f"link:{kind}", status=Status.FAIL if kind in needed else Status.WARN,
                    required=kind in needed,
                    detail=f"{kind}: {err.strip() or 'cannot be created'}"
                    + (" (the scenario needs it)" if kind in needed else ""),
                    fix=LINK_KINDS[kind].fix,
                ))
    finally:
        _run(host, "ip", "netns", "del", ns)
    return out


def needed_swarm_features(plan: Plan | None) -> set[str]:
    """esp for an encrypted overlay; ipvs for a VIP service or a published port."""
    if plan is None:
        return set()
    from netcheck.runtime.docker.multihost import is_encrypted

    out: set[str] = set()
    if any(is_encrypted(n) for n in plan.networks):
        out.add("esp")
    if any(s.endpoint_mode is EndpointMode.VIP or s.publish for s in plan.services):
        out.add("ipvs")
    return out


def check_swarm_features(host: Host, needed: Iterable[str]) -> list[CheckResult]:
    """ESP and IPVS, probed with the runtime's own argv in a throwaway namespace on `host`.

    Never blocking: what needs them is skipped with the reason, not failed.
    """
    from netcheck.runtime import features

    needed = set(needed)
    out: list[CheckResult] = []
    for feature in ("esp", "ipvs"):
        found = features.run_check(feature, lambda argv: _run(host, *argv))
        uses = features.NEEDED_BY[feature]
        if found.ok:
            out.append(CheckResult(id=f"kernel:{feature}", status=Status.PASS,
                                   detail=f"{features.DISPLAY[feature]} works ({uses})"))
            continue
        tail = (" (the scenario needs it: those checks will be skipped)"
                if feature in needed else "")
        out.append(CheckResult(
            id=f"kernel:{feature}", status=Status.WARN,
            detail=f"{found.reason}{tail}",
            fix=SWARM_FIX[feature] if found.probed else "install iproute2; run as root",
        ))
    return out


SWARM_FIX = {
    "esp": "a kernel with CONFIG_INET_ESP and CONFIG_CRYPTO_GCM, or no `encrypted` overlay "
           "(the VM tier has it: netcheck vm run)",
    "ipvs": "modprobe ip_vs (CONFIG_IP_VS); without it use endpoint_mode: dnsrr and no "
            "published ports",
}


def check_parents(host: Host, plan: Plan) -> list[CheckResult]:
    out: list[CheckResult] = []
    for parent in sorted({n.parent for n in plan.networks if n.parent}):
        rc, text, _ = _run(host, "ip", "-o", "link", "show", "dev", parent)
        if rc != 0:
            out.append(CheckResult(
                id=f"parent:{parent}", status=Status.FAIL, required=True,
                detail=f"{parent} does not exist on this host",
                fix=f"--set PARENT=<your NIC> (see: ip -o link), or create {parent}",
            ))
            continue
        flags = re.search(r"<([^>]*)>", text)
        words = set(flags.group(1).split(",")) if flags else set()
        rc, kind, _ = _run(host, "cat", f"/sys/class/net/{parent}/type")
        ether = kind.strip() == "1"
        if not ether:
            out.append(CheckResult(
                id=f"parent:{parent}", status=Status.FAIL, required=True,
                detail=f"{parent} is not an Ethernet device (type {kind.strip()}): it cannot "
                       "take macvlan children or go promiscuous",
                fix="pick an Ethernet NIC or a VLAN sub-interface of one"))
        elif "UP" not in words or "LOWER_UP" not in words:
            out.append(CheckResult(
                id=f"parent:{parent}", status=Status.FAIL, required=True,
                detail=f"{parent} is not up with carrier ({','.join(sorted(words))})",
                fix=f"ip link set {parent} up; check its cable/switch port"))
        else:
            out.append(CheckResult(id=f"parent:{parent}", status=Status.PASS,
                                   detail=f"{parent} exists, is up with carrier, Ethernet "
                                          "(promiscuous-capable)"))
    return out


def check_sysctls(host: Host, multi_homed: bool) -> list[CheckResult]:
    out: list[CheckResult] = []
    for key, why in SYSCTLS.items():
        rc, text, _ = _run(host, "cat", "/proc/sys/" + key.replace(".", "/"))
        value = text.strip() if rc == 0 else "?"
        status, fix = Status.PASS, None
        if key.endswith("rp_filter") and value == "1" and multi_homed:
            status = Status.WARN
            fix = "sysctl -w net.ipv4.conf.<nic>.rp_filter=2 on the NIC replies arrive on"
        elif key.endswith("ip_forward") and value == "0":
            status, fix = Status.WARN, "sysctl -w net.ipv4.ip_forward=1 (Docker sets it)"
        elif key.endswith("log_martians") and value == "0":
            status = Status.WARN
            fix = "sysctl -w net.ipv4.conf.all.log_martians=1 to see rp_filter drops"
        out.append(CheckResult(id=f"sysctl:{key.rsplit('.', 1)[-1]}", status=status,
                               detail=f"{key} = {value}: {why}", fix=fix))
    return out


def check_docker(host: Host, required: bool) -> list[CheckResult]:
    rc, out, err = _run(host, "docker", "version", "--format", "{{.Server.Version}}")
    if rc != 0 or not out.strip():
        return [CheckResult(
            id="docker", status=Status.FAIL if required else Status.WARN, required=required,
            detail=f"the Docker daemon does not answer: {(err or out).strip()[:160]}",
            fix="start dockerd (scripts/start-dockerd.sh), or use --runtime netns")]
    version = out.strip()
    results = [CheckResult(id="docker", status=Status.PASS, detail=f"Docker Engine {version}")]
    results.extend(docker_quirks(version))
    return results


def docker_quirks(version: str) -> list[CheckResult]:
    m = re.match(r"(\d+)\.(\d+)", version)
    if m is None:
        return []
    major = (int(m[1]), int(m[2]))
    out: list[CheckResult] = []
    if major < (25, 0):
        out.append(CheckResult(
            id="docker:mac-from-ip", status=Status.WARN,
            detail=f"Docker {version} derives container MACs from their IPs: a duplicate IP "
                   "shows as one MAC in two places, not as two MACs answering ARP",
            fix="upgrade to Docker >= 25 (random MACs), or read the switch's MAC table"))
    if major < (23, 0):
        out.append(CheckResult(
            id="docker:ipvlan-l3s", status=Status.WARN,
            detail=f"Docker {version}: ipvlan l3s mode and IPv6-only networks are missing",
            fix="upgrade Docker, or avoid ipvlan_mode l3s"))
    return out


def _routes(host: Host) -> list[IPNetwork]:
    nets: list[IPNetwork] = []
    for family in ("-4", "-6"):
        rc, text, _ = _run(host, "ip", family, "-o", "route", "show", "table", "main")
        if rc != 0:
            continue
        for line in text.splitlines():
            word = line.split()[0] if line.split() else ""
            if word == "default":
                continue
            try:
                nets.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
    return nets


def scenario_subnets(plan: Plan) -> list[tuple[str, IPNetwork]]:
    out = [(f"lan {lan.name}", lan.subnet) for lan in plan.lab.lans]
    for net in plan.networks:
        out += [(f"network {net.name}", s.subnet) for s in net.subnets]
    return out


def check_overlaps(host: Host, plan: Plan, lab_isolated: bool) -> list[CheckResult]:
    routes = _routes(host)
    out: list[CheckResult] = []
    for what, subnet in scenario_subnets(plan):
        clash = [r for r in routes if r.version == subnet.version and r.overlaps(subnet)]
        if not clash:
            continue
        status = Status.WARN if lab_isolated else Status.FAIL
        out.append(CheckResult(
            id=f"overlap:{subnet}", status=status, required=not lab_isolated,
            detail=f"{what} {subnet} overlaps this host's route(s) "
                   + ", ".join(str(c) for c in clash)
                   + (" (harmless in the netns lab, which has its own routing)"
                      if lab_isolated else ""),
            fix="use --set to pick another subnet, or drop the stale route"))
    if not out:
        out.append(CheckResult(id="overlap", status=Status.PASS,
                               detail="no scenario subnet overlaps this host's routes"))
    return out


Check = Callable[[Host], list[CheckResult]]
