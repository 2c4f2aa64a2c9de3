from __future__ import annotations

from netcheck.baseline.diff import diff_records, diff_snapshots
from netcheck.baseline.snapshot import LAB_SWITCH, ROOT, HostSnapshot, NetnsSnapshot
from netcheck.model.codec import decode_dataclass, encode
from netcheck.model.results import Observation, Outcome
from tests.baseline.records import record, verdict


def snap(run_id: str | None = None, **ns: NetnsSnapshot) -> HostSnapshot:
    return HostSnapshot(
        taken_at="t",
        hostname="h",
        kernel="k",
        namespaces=ns,
        run_id=run_id,
        docker_networks={"pub": {"driver": "macvlan", "option.parent": "eth0"}},
    )


BASE = NetnsSnapshot(
    links={"trunk0.136": {"state": "UP", "mtu": "1500", "kind": "veth"}},
    addresses={"trunk0.136": ("10.136.0.2/24",)},
    routes=("10.136.0.0/24 dev trunk0.136 proto kernel scope link src 10.136.0.2",),
    rules=("0: from all lookup local",),
    sysctls={"net.ipv4.conf.trunk0.136.rp_filter": "2", "net.ipv4.ip_forward": "1"},
)


def test_sysctl_change_named_like_an_operator_would() -> None:
    after = NetnsSnapshot(
        links=BASE.links,
        addresses=BASE.addresses,
        routes=BASE.routes,
        rules=BASE.rules,
        sysctls={"net.ipv4.conf.trunk0.136.rp_filter": "1", "net.ipv4.ip_forward": "1"},
    )
    changes = diff_snapshots(snap(**{ROOT: BASE}), snap(**{ROOT: after}))
    assert [c.text for c in changes] == ["rp_filter on trunk0.136 went 2 -> 1"]


def test_lab_namespace_changes_name_the_node() -> None:
    after = NetnsSnapshot(sysctls={"net.ipv4.ip_forward": "0"})
    before = NetnsSnapshot(sysctls={"net.ipv4.ip_forward": "1"})
    changes = diff_snapshots(snap(router=before), snap(router=after))
    assert [c.text for c in changes] == ["router: ip_forward went 1 -> 0"]


def test_links_routes_rules_docker() -> None:
    after = NetnsSnapshot(
        links={"trunk0.136": {"state": "DOWN", "mtu": "1500", "kind": "veth"}},
        addresses={},
        routes=(),
        rules=("0: from all lookup local", "100: from 10.0.0.0/8 lookup 7"),
        sysctls=BASE.sysctls,
    )
    b = snap(**{ROOT: BASE})
    a = HostSnapshot(
        taken_at="t",
        hostname="h",
        kernel="k",
        namespaces={ROOT: after},
        docker_networks={"pub": {"driver": "macvlan", "option.parent": "eth1"}},
    )
    texts = [c.text for c in diff_snapshots(b, a)]
    assert "link trunk0.136 changed: state UP -> DOWN" in texts  # what changed, no more
    assert "address trunk0.136 is gone (was 10.136.0.2/24)" in texts
    assert (
        "route removed: 10.136.0.0/24 dev trunk0.136 proto kernel scope link src "
        "10.136.0.2" in texts
    )
    assert "rule added: 100: from 10.0.0.0/8 lookup 7" in texts
    assert "docker-network pub changed: option.parent eth0 -> eth1" in texts


def test_run_ids_in_names_are_not_changes() -> None:
    b = snap("aaaaaa", **{ROOT: NetnsSnapshot(links={"nc-aaaaaa-br": {"state": "UP"}})})
    a = snap("bbbbbb", **{ROOT: NetnsSnapshot(links={"nc-bbbbbb-br": {"state": "UP"}})})
    assert diff_snapshots(b, a) == ()


def test_snapshot_round_trip() -> None:
    s = snap("abc", **{ROOT: BASE, "router": NetnsSnapshot()})
    assert decode_dataclass(HostSnapshot, encode(s)) == s


def test_record_diff_carries_host_changes() -> None:
    a = record("a", verdict("icmp:c1->c2", Outcome.PASS, Observation.ANSWERED))
    b = record("b", verdict("icmp:c1->c2", Outcome.FAIL, Observation.SILENT))
    diff = diff_records(
        a,
        b,
        snap(router=NetnsSnapshot(sysctls={"net.ipv4.ip_forward": "1"})),
        snap(router=NetnsSnapshot(sysctls={"net.ipv4.ip_forward": "0"})),
    )
    assert diff.has_regressions
    assert [c.text for c in diff.host_changes] == ["router: ip_forward went 1 -> 0"]


def test_a_new_link_is_one_change_not_one_per_sysctl() -> None:
    b = snap(**{ROOT: NetnsSnapshot(links={"lo": {"state": "UP"}})})
    a = snap(
        **{
            ROOT: NetnsSnapshot(
                links={"lo": {"state": "UP"}, "br-1": {"state": "DOWN", "kind": "bridge"}},
                sysctls={"net.ipv4.conf.br-1.rp_filter": "0", "net.ipv4.conf.br-1.forwarding": "1"},
            )
        }
    )
    assert [c.text for c in diff_snapshots(b, a)] == ["link br-1 appeared (kind=bridge state=DOWN)"]


def test_ip_forward_is_said_once_and_link_local_churn_is_ignored() -> None:
    b = snap(
        router=NetnsSnapshot(
            addresses={"eth0": ("10.0.0.1/24", "fe80::1/64")},
            sysctls={"net.ipv4.ip_forward": "1", "net.ipv4.conf.eth0.forwarding": "1"},
        )
    )
    a = snap(
        router=NetnsSnapshot(
            addresses={"eth0": ("10.0.0.1/24", "fe80::2/64")},
            sysctls={"net.ipv4.ip_forward": "0", "net.ipv4.conf.eth0.forwarding": "0"},
        )
    )
    assert [c.text for c in diff_snapshots(b, a)] == ["router: ip_forward went 1 -> 0"]


def test_a_changed_static_neighbour_and_table_route_are_named() -> None:
    before = NetnsSnapshot(
        routes=("default via 10.51.0.1 dev eth0 table 100",),
        rules=("100: from 10.51.0.11/32 lookup 100",),
        neighbours=("10.71.0.20 dev eth0 lladdr 02:00:5e:10:00:99 PERMANENT",),
    )
    after = NetnsSnapshot(
        routes=("default via 10.52.0.1 dev eth1 table 100",),
        rules=(),
        neighbours=("10.71.0.20 dev eth0 lladdr 02:00:5e:10:00:98 PERMANENT",),
    )
    texts = [c.text for c in diff_snapshots(snap(m1=before), snap(m1=after))]
    assert "m1: rule removed: 100: from 10.51.0.11/32 lookup 100" in texts
    assert "m1: route added: default via 10.52.0.1 dev eth1 table 100" in texts
    assert "m1: neighbour removed: 10.71.0.20 dev eth0 lladdr 02:00:5e:10:00:99 PERMANENT" \
        in texts
    assert "m1: neighbour added: 10.71.0.20 dev eth0 lladdr 02:00:5e:10:00:98 PERMANENT" \
        in texts


def test_neighbours_round_trip_and_old_documents_load() -> None:
    ns = NetnsSnapshot(neighbours=("10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 PERMANENT",))
    data = encode(snap(m=ns))
    assert decode_dataclass(HostSnapshot, data, "snapshot").namespaces["m"].neighbours == \
        ns.neighbours
    del data["namespaces"]["m"]["neighbours"]  # a snapshot written before the field
    assert decode_dataclass(HostSnapshot, data, "snapshot").namespaces["m"].neighbours == ()


class _Msg(dict):  # type: ignore[type-arg]
    """A netlink neighbour message as pyroute2 gives it: fields by key, attrs by get_attr."""

    def __init__(self, state: int, dst: str, mac: str) -> None:
        super().__init__(state=state, ifindex=2)
        self.attrs = {"NDA_DST": dst, "NDA_LLADDR": mac}

    def get_attr(self, name: str) -> str | None:
        return self.attrs.get(name)


class _Ipr:
    def __init__(self, msgs: list[_Msg]) -> None:
        self.msgs = msgs

    def get_neighbours(self) -> list[_Msg]:
        return self.msgs


def test_the_kernels_own_multicast_entries_are_no_static_neighbours() -> None:
    # ff02::1:ffXX:XXXX follows each run's random MAC: recording it made every diff of two
    # identical labs report neighbour changes.
    from netcheck.baseline.snapshot import _neighbours

    got = _neighbours(_Ipr([
        _Msg(0x40, "ff02::1:ffab:c7e6", "33:33:ff:ab:c7:e6"),
        _Msg(0x40, "0.0.0.0", "00:00:00:00:00:00"),
        _Msg(0x02, "10.0.0.9", "02:00:00:00:00:09"),  # learned: churns, not recorded
        _Msg(0x80, "10.0.0.1", "02:00:00:00:00:01"),
    ]), {2: "eth0"})
    assert got == ("10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 PERMANENT",)


def test_a_changed_vxlan_device_names_the_attributes_that_changed() -> None:
    before = NetnsSnapshot(links={"vx42": {"kind": "vxlan", "vni": "42", "dstport": "4789",
                                           "remote": "10.71.0.12", "mtu": "1450"}})
    after = NetnsSnapshot(links={"vx42": {"kind": "vxlan", "vni": "43", "dstport": "8472",
                                          "remote": "10.71.0.12", "mtu": "1450"}})
    changes = diff_snapshots(snap(a1=before), snap(a1=after))
    assert [c.text for c in changes] == [
        "a1: link vx42 changed: dstport 4789 -> 8472, vni 42 -> 43"]
    assert changes[0].before == "dstport=4789 kind=vxlan mtu=1450 remote=10.71.0.12 vni=42"


def test_a_switch_port_that_stopped_hairpinning_is_named() -> None:
    port = {"kind": "veth", "master": "lan", "state": "UP"}
    before = NetnsSnapshot(links={"host1-eth0": port | {"hairpin": "on"}})
    after = NetnsSnapshot(links={"host1-eth0": port | {"hairpin": "off"}})
    assert [c.text for c in diff_snapshots(snap(**{LAB_SWITCH: before}),
                                           snap(**{LAB_SWITCH: after}))] == [
        "lab switch: link host1-eth0 changed: hairpin on -> off"]


def test_an_extra_address_is_named_alone() -> None:
    before = NetnsSnapshot(addresses={"lo": ("127.0.0.1/8", "::1/128")})
    after = NetnsSnapshot(addresses={"lo": ("127.0.0.1/8", "192.0.2.53/32", "::1/128")})
    assert [c.text for c in diff_snapshots(snap(m=before), snap(m=after))] == [
        "m: address on lo changed: added 192.0.2.53/32"]
    assert [c.text for c in diff_snapshots(snap(m=after), snap(m=before))] == [
        "m: address on lo changed: removed 192.0.2.53/32"]


class _Route(dict):  # type: ignore[type-arg]
    def __init__(self, flags: int, **attrs: object) -> None:
        super().__init__(dst_len=0, table=100, proto=4, scope=0, type=1, flags=flags)
        self.attrs = attrs

    def get_attr(self, name: str) -> object:
        return self.attrs.get(name)


def test_an_onlink_route_says_so() -> None:
    from netcheck.baseline.snapshot import _route_line

    onlink = _Route(4, RTA_GATEWAY="10.62.0.1", RTA_OIF=2, RTA_TABLE=100)
    assert _route_line(onlink, {2: "eth0"}) == \
        "default via 10.62.0.1 dev eth0 table 100 proto static onlink"
    assert "onlink" not in _route_line(_Route(0, RTA_GATEWAY="10.62.0.1"), {})


class _Attrs(dict):  # type: ignore[type-arg]
    """A netlink message as pyroute2 gives it: fields by key, attributes by get_attr."""

    def __init__(self, fields: dict[str, object], **attrs: object) -> None:
        super().__init__(fields)
        self.attrs = attrs

    def get_attr(self, name: str) -> object:
        return self.attrs.get(name)


class _Links:
    def __init__(self, msgs: list[_Attrs]) -> None:
        self.msgs = msgs

    def get_links(self) -> list[_Attrs]:
        return self.msgs


def _link(index: int, name: str, kind: str, state: str, carrier: int, **more: object) -> _Attrs:
    info = _Attrs({}, IFLA_INFO_KIND=kind, **more)
    return _Attrs({"index": index}, IFLA_IFNAME=name, IFLA_OPERSTATE=state, IFLA_MTU=1500,
                  IFLA_CARRIER=carrier, IFLA_LINKINFO=info)


def test_a_bridge_not_yet_told_its_state_is_its_carrier_and_ports_say_their_hairpin() -> None:
    from netcheck.baseline.snapshot import _links

    port = _link(3, "h1-eth0", "veth", "UP", 1, IFLA_INFO_SLAVE_KIND="bridge",
                 IFLA_INFO_SLAVE_DATA=_Attrs({}, IFLA_BRPORT_MODE=1))
    port.attrs["IFLA_MASTER"] = 2
    links, _ = _links(_Links([
        _link(1, "vx42", "vxlan", "UNKNOWN", 1),  # says UNKNOWN for good: kept
        _link(2, "lan", "bridge", "UNKNOWN", 1),  # linkwatch has not run yet
        port,
        _link(4, "idle", "bridge", "UNKNOWN", 0),
    ]))
    assert links["vx42"]["state"] == "UNKNOWN"
    assert (links["lan"]["state"], links["idle"]["state"]) == ("UP", "DOWN")
    assert (links["h1-eth0"]["master"], links["h1-eth0"]["hairpin"]) == ("lan", "on")
    assert "hairpin" not in links["lan"]


def test_a_link_local_address_and_route_that_went_with_a_port_are_no_changes() -> None:
    b = snap(sw=NetnsSnapshot(addresses={"p1": ("fe80::1/64",)},
                              routes=("inet6 fe80::/64 dev p1 proto kernel",
                                      "inet6 fd00::/64 dev p1 proto kernel")))
    a = snap(sw=NetnsSnapshot(addresses={}, routes=()))
    assert [c.text for c in diff_snapshots(b, a)] == [
        "sw: route removed: inet6 fd00::/64 dev p1 proto kernel"]
