"""What discover derives from a live host: Docker's promises and its isolation by design."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from netcheck.discover.derive import Derived, Form, derive
from netcheck.discover.live import LiveAttachment, LiveContainer, LiveHost, LiveNetwork, LiveSubnet
from netcheck.discover.pipeline import assert_on_host_networks
from tests.discover.conftest import URL

A = ipaddress.ip_address
N = ipaddress.ip_network


def _about(draft_exps: tuple[Derived, ...], text: str) -> list[Derived]:
    return [d for d in draft_exps if text in d.why]


def test_recorded_host_mesh_pins_the_multi_homed_target(host: LiveHost) -> None:
    draft = derive([host])
    (mesh,) = [d for d in _about(draft.expectations, "dsc-backend (bridge)")]
    assert mesh.form is Form.PAIR and mesh.probes == ("icmp",)
    assert mesh.sources == ("dsc-db", "dsc-web")
    assert mesh.targets == ("dsc-db", "dsc-web@dsc-backend")  # web is on two networks
    assert [c.id for c in mesh.checks()] == ["icmp:dsc-db->dsc-web@dsc-backend",
                                             "icmp:dsc-web->dsc-db"]


def test_single_homed_members_make_a_mesh() -> None:
    net = LiveNetwork(name="app", driver="bridge",
                      subnets=(LiveSubnet(subnet=N("10.9.0.0/24"), gateway=A("10.9.0.1")),))
    cs = tuple(LiveContainer(name=n, attachments=(LiveAttachment(
        network="app", addresses=(A(f"10.9.0.{i + 2}"),)),)) for i, n in enumerate("cab"))
    draft = derive([LiveHost(url=URL, hostname="h", engine="26.1", networks=(net,),
                             containers=cs)])
    (mesh,) = [d for d in draft.expectations if d.form is Form.MESH]
    assert mesh.sources == ("a", "b", "c")
    assert len(mesh.checks()) == 6
    assert "Docker connects every container" in mesh.why


def test_dns_names_and_aliases_with_the_expected_answer(host: LiveHost) -> None:
    draft = derive([host])
    (db,) = [d for d in draft.expectations if "dns/dsc-db" in d.probes]
    assert db.probes == ("dns/dsc-db", "dns/database")
    assert db.sources == ("dsc-web",) and db.targets == ("dsc-db",)
    (www,) = [d for d in draft.expectations if "dns/www" in d.probes]
    assert www.targets == ("dsc-web@dsc-frontend",)
    assert "dns/dsc-web:dsc-cache->dsc-web@dsc-frontend" in {c.id for c in www.checks()}
    # No DNS by name on Docker's default bridge: nothing is derived there.
    assert not _about(draft.expectations, "bridge:")


def test_gateways_are_named_targets_from_ipam(host: LiveHost) -> None:
    draft = derive([host])
    assert {t.name: t.address for t in draft.targets} == {
        "dsc-backend-gateway": A("10.231.1.1"),
        "dsc-frontend-gateway": A("10.231.2.1"),
        "dsc-iso-gateway": A("10.231.4.1"),
    }
    (gw,) = [d for d in draft.expectations if d.targets == ("dsc-frontend-gateway",)]
    assert gw.sources == ("dsc-cache", "dsc-web") and gw.reachable
    assert_on_host_networks(draft, [host])  # nothing outside the host's networks


def test_icc_off_is_isolation_by_design_not_a_mesh(host: LiveHost) -> None:
    draft = derive([host])
    iso = _about(draft.expectations, "dsc-iso")
    forms = {d.form for d in iso}
    assert Form.MESH not in forms
    (isolated,) = [d for d in iso if d.form is Form.ISOLATED]
    assert not isolated.reachable and isolated.sources == ("dsc-iso1", "dsc-iso2")
    assert {c.id for c in isolated.checks()} == {"icmp:dsc-iso1->dsc-iso2",
                                                 "icmp:dsc-iso2->dsc-iso1"}


def test_left_out_objects_become_notes(host: LiveHost) -> None:
    notes = derive([host]).notes
    assert "left out: container dsc-stopped: not running (created)" in notes
    assert "left out: network dsc-ncown: netcheck's own (run fixture)" in notes
    assert "left out: network bridge: no running container on it" in notes
    assert "bridge" not in {n.key for n in derive([host]).networks}


def test_gateway_from_the_containers_when_ipam_names_none(host: LiveHost) -> None:
    # `docker network create --subnet X` alone: IPAM lists no gateway, the endpoints do.
    bare = tuple(replace(n, subnets=tuple(replace(s, gateway=None) for s in n.subnets))
                 for n in host.networks)
    draft = derive([replace(host, networks=bare)])
    assert {t.name: str(t.address) for t in draft.targets}["dsc-backend-gateway"] \
        == "10.231.1.1"


def _macvlan_host(mode: str = "bridge", driver: str = "macvlan") -> LiveHost:
    opts = {"parent": "eth0.100", f"{driver}_mode": mode}
    net = LiveNetwork(name="prod100", driver=driver, options=opts, subnets=(
        LiveSubnet(subnet=N("10.20.0.0/24"), gateway=A("10.20.0.1"),
                   ip_range=N("10.20.0.128/25")),))
    cs = tuple(LiveContainer(name=n, attachments=(LiveAttachment(
        network="prod100", addresses=(A(f"10.20.0.{130 + i}"),)),)) for i, n in
        enumerate(("web-1", "web-2")))
    return LiveHost(url=URL, hostname="h1", engine="20.10", networks=(net,), containers=cs,
                    addresses={"eth0": (A("192.0.2.7"),), "eth0.100": (A("10.20.0.250"),)})


def test_macvlan_container_does_not_reach_its_own_host_on_the_parent() -> None:
    draft = derive([_macvlan_host()])
    (iso,) = [d for d in draft.expectations if not d.reachable]
    # Silence is the promise; no reason a rule cannot confirm on a literal host address.
    assert iso.reason is None and not iso.reachable
    assert iso.targets == ("host-eth0.100",) and iso.sources == ("web-1", "web-2")
    assert {t.name: t.address for t in draft.targets}["host-eth0.100"] == A("10.20.0.250")
    (gw,) = [d for d in draft.expectations if d.targets == ("prod100-gateway",)]
    assert "10.20.0.1" in gw.why
    assert any(d.form is Form.MESH for d in draft.expectations)


def test_macvlan_private_is_isolated_and_ipvlan_l3_has_no_gateway() -> None:
    private = derive([_macvlan_host("private")])
    assert {d.form for d in private.expectations if "icmp" in d.probes and d.targets == ()} \
        == {Form.ISOLATED}
    l3 = derive([_macvlan_host("l3", driver="ipvlan")])
    assert not [t for t in l3.targets if "gateway" in t.name]
    (iso,) = [d for d in l3.expectations if not d.reachable]
    assert iso.reason is None  # the macvlan rule does not speak for ipvlan


def test_no_parent_address_no_host_isolation_check() -> None:
    host = replace(_macvlan_host(), addresses={"eth0": (A("192.0.2.7"),)})
    assert all(d.reachable for d in derive([host]).expectations)


def _internal_host(gateways: bool = True) -> LiveHost:
    internal = LiveNetwork(name="vault", driver="bridge", internal=True, subnets=(
        LiveSubnet(subnet=N("10.8.0.0/24"), gateway=A("10.8.0.1")),))
    routed = LiveNetwork(name="app", driver="bridge", subnets=(
        LiveSubnet(subnet=N("10.9.0.0/24"), gateway=A("10.9.0.1")),))

    def on(net: str, gw: str) -> LiveAttachment:
        return LiveAttachment(network=net, gateway=A(gw) if gateways else None)

    cs = (
        LiveContainer(name="secret", attachments=(on("vault", "10.8.0.1"),)),
        LiveContainer(name="both", attachments=(on("app", "10.9.0.1"), on("vault", "10.8.0.1"))),
        LiveContainer(name="web", attachments=(on("app", "10.9.0.1"),)),
    )
    return LiveHost(url=URL, hostname="h", engine="26", networks=(internal, routed),
                    containers=cs)


def test_internal_network_isolation_in_both_directions() -> None:
    draft = derive([_internal_host()])
    inside, outside = sorted((d for d in draft.expectations if not d.reachable),
                             key=lambda d: d.why)
    assert "--internal" in inside.why and "(from inside" in inside.why
    # Only the single-homed member is a source: `both` may reach out through app.
    assert inside.sources == ("secret",) and inside.targets == ("web",)
    assert outside.sources == ("web",) and outside.targets == ("both@vault", "secret")
    ids = [c.id for d in draft.expectations for c in d.checks()]
    assert len(ids) == len(set(ids))


def test_no_route_out_no_isolation_check() -> None:
    # A probe that cannot even be sent proves nothing: nothing is derived without a gateway.
    assert all(d.reachable or d.form is Form.ISOLATED
               for d in derive([_internal_host(gateways=False)]).expectations)


def test_recorded_internal_networks_isolate_each_other(host: LiveHost) -> None:
    draft = derive([host])
    inside = [d for d in draft.expectations if "(from inside" in d.why]
    assert {d.sources for d in inside} == {("dsc-db",), ("dsc-cache",),
                                           ("dsc-iso1", "dsc-iso2")}
    (db,) = [d for d in inside if d.sources == ("dsc-db",)]
    # One container of each other network stands for it (frontend: cache; iso: iso1).
    assert db.targets == ("dsc-cache", "dsc-iso1")
    (cache,) = [d for d in inside if d.sources == ("dsc-cache",)]
    assert cache.targets == ("dsc-db", "dsc-iso1")  # web is on frontend too: not outside
    assert not [d for d in draft.expectations if "(from outside" in d.why]
    ids = [c.id for d in draft.expectations for c in d.checks()]
    assert len(ids) == len(set(ids))


def test_derivation_is_deterministic(host: LiveHost) -> None:
    assert derive([host]) == derive([host])
    shuffled = replace(host, containers=tuple(reversed(host.containers)),
                       networks=tuple(reversed(host.networks)))
    assert derive([shuffled]).expectations == derive([host]).expectations
