"""`netcheck doctor`: checks against a fake testinfra host, and for real on this machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from netcheck.doctor import Status, checks, run_preflight
from netcheck.scenario import load_plan
from tests.helpers import ROOT, netcheck


@dataclass
class Out:
    rc: int
    stdout: str = ""
    stderr: str = ""


class FakeHost:
    """Answers commands from a table: (argv prefix) -> Out."""

    def __init__(self, answers: dict[tuple[str, ...], Out]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def run(self, command: str, *args: str) -> Out:
        self.calls.append(args)
        for prefix, out in self.answers.items():
            if args[: len(prefix)] == prefix:
                return out
        return Out(rc=0)


def test_missing_link_kind_fails_only_when_needed() -> None:
    host = FakeHost({("ip", "-n"): Out(0)})
    host.answers = {
        ("ip", "netns", "add"): Out(0),
        ("ip", "netns", "del"): Out(0),
    }

    def run(command: str, *args: str) -> Out:
        host.calls.append(args)
        if "ipvlan" in args:
            return Out(2, stderr="Error: Unknown device type.")
        return Out(0)

    host.run = run  # type: ignore[method-assign]
    got = {c.id: c for c in checks.check_link_kinds(host, {"ipvlan"})}
    assert got["link:ipvlan"].status is Status.FAIL and got["link:ipvlan"].blocking
    assert got["link:macvlan"].status is Status.PASS
    got = {c.id: c for c in checks.check_link_kinds(host, set())}
    assert got["link:ipvlan"].status is Status.WARN and not got["link:ipvlan"].blocking
    # the scratch namespace is named like every netcheck object, and removed
    adds = [a for a in host.calls if a[:3] == ("ip", "netns", "add")]
    dels = [a for a in host.calls if a[:3] == ("ip", "netns", "del")]
    assert adds and dels and all(a[3].startswith("nc-") and a[3].endswith("-probe")
                                 for a in adds)


def test_parent_checks() -> None:
    plan = load_plan(str(ROOT / "tests" / "doctor" / "real-parent.yaml"), {})
    host = FakeHost({
        ("ip", "-o", "link", "show", "dev", "ens33"): Out(1, stderr="does not exist"),
    })
    (res,) = checks.check_parents(host, plan)
    assert res.status is Status.FAIL and res.blocking and "does not exist" in res.detail
    host = FakeHost({
        ("ip", "-o", "link", "show"): Out(0, "2: ens33: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu"),
        ("cat",): Out(0, "1\n"),
    })
    (res,) = checks.check_parents(host, plan)
    assert res.status is Status.PASS


def test_overlap_with_host_routes() -> None:
    plan = load_plan(str(ROOT / "scenarios" / "quickstart.yaml"), {})
    host = FakeHost({
        ("ip", "-4"): Out(0, "default via 10.0.0.1 dev eth0\n172.16.0.0/16 dev br0 scope link\n"),
        ("ip", "-6"): Out(0, ""),
    })
    got = checks.check_overlaps(host, plan, lab_isolated=True)
    assert {c.detail.split(" 172")[0] for c in got} == {"lan lan", "network pub_net"}
    assert all(c.status is Status.WARN and not c.blocking and "172.16.0.0/16" in c.detail
               for c in got)
    assert all(c.blocking for c in checks.check_overlaps(host, plan, lab_isolated=False))


def test_docker_quirks_by_version() -> None:
    assert {c.id for c in checks.docker_quirks("20.10.24")} >= {"docker:mac-from-ip"}
    assert checks.docker_quirks("27.1.0") == []


def test_run_preflight_needs_iptables_for_firewall_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = load_plan(str(ROOT / "scenarios" / "faults" / "filtered.yaml"), {})
    monkeypatch.setattr("netcheck.doctor.preflight.shutil.which", lambda _name: None)
    (res,) = run_preflight(plan, "netns")
    assert res.blocking and "iptables" in res.detail
    # the netns lab never looks at the machine's own NICs or routes
    quick = load_plan(str(ROOT / "scenarios" / "quickstart.yaml"), {})
    assert run_preflight(quick, "netns") == []


@pytest.mark.privileged
def test_doctor_cli_on_this_machine() -> None:
    proc = netcheck("doctor", str(ROOT / "scenarios" / "faults" / "rp-filter-seed004.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for item in ("kernel", "link:macvlan", "sysctl:rp_filter", "docker", "overlap"):
        assert item in proc.stdout


@pytest.mark.privileged
def test_doctor_cli_exits_3_when_the_parent_is_missing(tmp_path: Path) -> None:
    proc = netcheck("doctor", str(ROOT / "tests" / "doctor" / "real-parent.yaml"),
                    "--set", "PARENT=nctest-none0")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "nctest-none0 does not exist" in proc.stdout


def test_swarm_features_warn_never_block() -> None:
    host = FakeHost({
        ("unshare", "--net", "--", "ip", "xfrm"): Out(2, stderr="Error: Requested AEAD "
                                                              "algorithm not found."),
        ("unshare", "--net", "--", "genl"): Out(0, stdout="Name: IPVS"),
    })
    got = {c.id: c for c in checks.check_swarm_features(host, {"esp"})}
    assert got["kernel:esp"].status is Status.WARN and not got["kernel:esp"].blocking
    assert "kernel lacks ESP" in got["kernel:esp"].detail
    assert "scenario needs it" in got["kernel:esp"].detail
    assert got["kernel:ipvs"].status is Status.PASS


def test_needed_swarm_features_from_the_scenario() -> None:
    plan = load_plan(ROOT / "scenarios" / "multihost" / "overlay-two-hosts.yaml")
    assert checks.needed_swarm_features(plan) == {"esp"}
    assert checks.needed_swarm_features(None) == set()
