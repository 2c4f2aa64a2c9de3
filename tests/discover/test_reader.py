"""The reader on inspect data recorded from a real dockerd (tests/discover/data/host.json)."""

from __future__ import annotations

import ipaddress

from netcheck.discover.live import LiveHost
from netcheck.discover.reader import excluded
from tests.discover.conftest import read

A = ipaddress.ip_address
N = ipaddress.ip_network


def test_keeps_user_networks_and_the_default_bridge(host: LiveHost) -> None:
    assert [n.name for n in host.networks] == ["bridge", "dsc-backend", "dsc-frontend",
                                               "dsc-iso"]
    assert host.network("bridge").predefined
    assert not host.network("dsc-backend").predefined
    assert all(n.internal for n in host.networks if n.name.startswith("dsc-"))


def test_leaves_out_host_none_netcheck_own_and_not_running_with_the_reason(
    host: LiveHost,
) -> None:
    why = {(s.kind, s.name): s.why for s in host.skipped}
    assert why[("network", "host")].startswith("driver host")
    assert why[("network", "none")].startswith("driver null")
    assert why[("network", "dsc-ncown")] == "netcheck's own (run fixture)"
    assert why[("container", "dsc-ncprobe")] == "netcheck's own (run fixture)"
    assert why[("container", "dsc-stopped")] == "not running (created)"
    assert "network mode none" in why[("container", "dsc-nonet")]
    assert {c.name for c in host.containers} == {"dsc-cache", "dsc-db", "dsc-iso1", "dsc-iso2",
                                                 "dsc-web"}


def test_ipam_ranges_aux_and_options(host: LiveHost) -> None:
    front = host.network("dsc-frontend").subnets
    assert len(front) == 1
    assert front[0].subnet == N("10.231.2.0/24")
    assert front[0].gateway == A("10.231.2.1")
    assert front[0].ip_range == N("10.231.2.128/25")
    assert dict(front[0].aux_addresses) == {"reserved": A("10.231.2.5")}
    assert not host.network("dsc-iso").icc
    assert host.network("dsc-backend").icc


def test_attachments_fixed_addresses_and_user_aliases_only(host: LiveHost) -> None:
    db = next(c for c in host.containers if c.name == "dsc-db")
    (att,) = db.attachments
    assert att.network == "dsc-backend"
    assert att.fixed == (A("10.231.1.10"),)
    assert att.addresses == (A("10.231.1.10"),)
    assert att.aliases == ("database",)  # Docker's short-id alias is not the user's
    web = next(c for c in host.containers if c.name == "dsc-web")
    assert [a.network for a in web.attachments] == ["dsc-backend", "dsc-frontend"]
    front = web.attachment("dsc-frontend")
    assert front is not None and front.aliases == ("www",) and front.fixed == ()
    assert front.addresses and front.addresses[0] in N("10.231.2.128/25")  # from the range


def test_exclude_globs_drop_networks_and_containers() -> None:
    host = read(exclude=("dsc-iso*",))
    assert "dsc-iso" not in {n.name for n in host.networks}
    assert {c.name for c in host.containers} == {"dsc-cache", "dsc-db", "dsc-web"}
    assert {(s.kind, s.name, s.why) for s in host.skipped} >= {
        ("network", "dsc-iso", "--exclude dsc-iso*"),
        ("container", "dsc-iso1", "--exclude dsc-iso*"),
    }
    assert excluded("web-1", ["db", "web-?"]) == "web-?"
    assert excluded("web-1", ["web"]) is None


def test_a_container_loses_only_the_attachment_to_an_excluded_network() -> None:
    host = read(exclude=("dsc-frontend",))
    web = next(c for c in host.containers if c.name == "dsc-web")
    assert [a.network for a in web.attachments] == ["dsc-backend"]
    assert "dsc-cache" not in {c.name for c in host.containers}  # on nothing kept
