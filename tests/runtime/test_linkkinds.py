"""One link-kind table for the runtime's pyroute2 probe and the doctor's `ip` commands."""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.doctor import checks
from netcheck.runtime import features
from netcheck.runtime.linkkinds import KCONFIG, LINK_KINDS, SCRATCH_VETHS


def test_each_kind_is_one_name_with_one_recipe_in_both_forms() -> None:
    for name, kind in LINK_KINDS.items():
        argv = kind.ip_argv()
        assert argv[:3] == ("link", "add", kind.ifname)
        assert argv[argv.index("type") + 1] == name
        netlink = kind.netlink(7 if kind.lower else None)
        assert (netlink["ifname"], netlink["kind"]) == (kind.ifname, name)
        if kind.lower is None:
            assert "link" not in argv[3:] and "link" not in netlink
        else:
            assert kind.lower in SCRATCH_VETHS
            assert argv[3:5] == ("link", kind.lower) and netlink["link"] == 7
    # 802.1q is "vlan" everywhere (its kernel module is 8021q)
    assert LINK_KINDS["vlan"].ip_argv() == ("link", "add", "v0", "link", "p0", "type", "vlan",
                                            "id", "5")
    assert LINK_KINDS["vlan"].netlink(3) == {"ifname": "v0", "kind": "vlan", "link": 3,
                                             "vlan_id": 5}
    # a lower with a macvlan child cannot take an ipvlan one: they must not share it
    assert LINK_KINDS["macvlan"].lower != LINK_KINDS["ipvlan"].lower
    assert features.KCONFIG is KCONFIG and KCONFIG["vlan"] == "CONFIG_VLAN_8021Q"


@dataclass
class Out:
    rc: int
    stdout: str = ""
    stderr: str = ""


class RecordingHost:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(self, command: str, *args: str) -> Out:
        self.calls.append(args)
        if "vlan" in args and "type" in args:
            return Out(2, stderr="Error: Unknown device type.")
        return Out(0)


def test_doctor_runs_the_tables_recipes_and_names_kinds_as_the_runtime_does() -> None:
    host = RecordingHost()
    got = {c.id: c for c in checks.check_link_kinds(host, {"vlan"})}
    assert set(got) == {f"link:{k}" for k in checks.DOCTOR_KINDS}
    assert got["link:vlan"].blocking and got["link:vlan"].fix == LINK_KINDS["vlan"].fix
    ns = host.calls[0][3]
    made = [c[3:] for c in host.calls if c[:3] == ("ip", "-n", ns)]
    assert made[:2] == [("link", "add", v, "type", "veth", "peer", "name", f"{v[0]}1")
                        for v in SCRATCH_VETHS]
    assert made[2:] == [LINK_KINDS[k].ip_argv() for k in checks.DOCTOR_KINDS]
