"""What only the build can find out is still the scenario's mistake: the kernel refuses a
route or a sysctl a scenario line asks for -> exit 2 naming that line, nothing left behind.

Hosts get links at build time (bridges, veths), so validate cannot judge their routes and
per-interface sysctls; a sysctl's accepted values are the kernel's to decide.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import netcheck

pytestmark = pytest.mark.privileged

BASE = """\
name: refused
lab:
  lans:
    lan: {{subnet: 10.77.0.0/24}}
  machines:
    nas: {{lan: lan, ip: 10.77.0.20}}
  hosts:
    host1:
      uplinks:
        - {{ifname: eth0, lan: lan, ip: 10.77.0.2}}
      {feature}
expectations:
  - {{from: host1, to: nas, probe: icmp}}
"""
LINE = 11  # the feature's line in BASE


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        ('routes: ["10.9.0.0/16 dev eth9"]', "host1 has no interface 'eth9'. Its interfaces: "),
        ('routes: ["10.9.0.0/16 via 10.99.0.1"]', "Network is unreachable (ENETUNREACH). The "
                                                  "gateway must be on a subnet"),
        ("sysctls: {net.ipv4.conf.eth7.rp_filter: 1}", "No such file or directory. The key "
                                                        "does not exist in the node"),
        ("sysctls: {net.ipv4.conf.all.rp_filter: abc}", "Invalid argument. The kernel does not "
                                                         "take that value"),
    ],
    ids=["route-dev-missing", "route-via-off-link", "sysctl-no-such-interface",
         "sysctl-value-rejected"],
)
def test_refused_line_exits_2_with_its_place(
    tmp_path: Path, feature: str, message: str, no_leftovers: None
) -> None:
    scenario = tmp_path / "refused.yaml"
    scenario.write_text(BASE.format(feature=feature), encoding="utf-8")
    assert scenario.read_text().splitlines()[LINE - 1].strip() == feature
    assert netcheck("validate", str(scenario)).returncode == 0  # only the build can tell
    proc = netcheck("run", str(scenario), "--runtime", "netns", "--no-reports")
    assert proc.returncode == 2, proc.stderr
    assert f"{scenario}:{LINE}: " in proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
