"""File-level failures, safe YAML, and the network/endpoint rules the corpus does not pin."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netcheck.errors import ScenarioErrors
from netcheck.model.plan import Driver, IpvlanMode, ProbeKind, PublishedPort, PublishMode
from netcheck.scenario import load_plan
from tests.scenario.conftest import Fail, Load


def _errors(path: Path) -> ScenarioErrors:
    with pytest.raises(ScenarioErrors) as caught:
        load_plan(path)
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    errors = _errors(tmp_path / "nope.yaml")
    assert str(errors) == f"{tmp_path / 'nope.yaml'}: file does not exist"
    assert errors.exit_code == 2


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in str(_errors(tmp_path))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    (err,) = _errors(path).errors
    assert (err.location.line, err.message) == (2, "not UTF-8 text")


def test_only_comments_is_empty(fail: Fail) -> None:
    assert "the file is empty" in str(fail("# nothing here\n"))


def test_minimal_scenario_is_valid(load: Load) -> None:
    plan = load("description: nothing to check\n")
    assert plan.name == "s"  # from the file name
    assert plan.expectations == () and plan.endpoints == ()


def test_python_tag_is_never_constructed(fail: Fail, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    errors = fail(f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert "is not allowed" in str(errors)
    assert not marker.exists()


def test_alias_bomb_is_bounded(fail: Fail) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    errors = fail("\n".join(lines) + "\n")
    assert "more than 100000 values" in str(errors)


def test_anchors_and_merge_keys_work(load: Load) -> None:
    plan = load("""
        networks:
          base: &base {driver: bridge, internal: true, subnets: [{subnet: 10.1.0.0/24}]}
          other:
            <<: *base
            subnets: [{subnet: 10.2.0.0/24}]
    """)
    assert plan.network("other").internal is True
    assert plan.network("other").subnets[0].subnet == ipaddress.ip_network("10.2.0.0/24")


def test_multiple_documents_are_a_syntax_error(fail: Fail) -> None:
    errors = fail("name: a\n---\nname: b\n")
    assert "YAML syntax error" in str(errors)
    assert errors.errors[0].location.line == 2


def test_errors_are_sorted_and_all_reported(fail: Fail) -> None:
    errors = fail("""
        name: x
        networks:
          n1: {driver: macvlam}
          n2: {drvier: bridge}
        endpoints:
          c1: {networks: []}
    """)
    assert [e.location.line for e in errors.errors] == [3, 4, 6]
    assert "Did you mean 'driver'?" in str(errors.errors[1])
    assert "needs at least 1 item" in str(errors.errors[2])


def test_docker_options_map_to_fields(load: Load) -> None:
    plan = load("""
        networks:
          v6:
            driver: ipvlan
            options:
              com.docker.network.driver.mtu: 1400
              parent: eth0.100
              foo: true
            subnets:
              - {subnet: "fd00:1::/64", gateway: "fd00:1::1"}
              - {subnet: 10.3.0.0/24}
        endpoints:
          c1:
            networks:
              v6: {ip: "fd00:1::10", aliases: [web]}
    """)
    net = plan.network("v6")
    assert (net.driver, net.mtu, net.parent) == (Driver.IPVLAN, 1400, "eth0.100")
    assert net.ipvlan_mode is IpvlanMode.L2 and net.macvlan_mode is None
    assert net.options == {"foo": "true"}
    (att,) = plan.endpoint("c1").attachments
    assert att.ip == ipaddress.ip_address("fd00:1::10") and att.aliases == ("web",)
    assert plan.endpoint("c1").host is None  # no lab hosts


def test_fixed_ip_needs_subnets(fail: Fail) -> None:
    errors = fail("""
        networks: {n: {}}
        endpoints: {c: {networks: {n: {ip: 10.0.0.5}}}}
    """)
    assert "network 'n' has no subnets, so it cannot give a fixed ip" in str(errors)


def test_router_key_alone_means_a_router(fail: Fail) -> None:
    errors = fail("""
        lab:
          lans: {lan: {subnet: 10.0.0.0/24}}
          router:
    """)
    assert "needs a gateway" in str(errors)


def test_parent_on_bridge_and_unknown_mode(fail: Fail) -> None:
    errors = fail("""
        networks:
          b: {driver: bridge, parent: eth0}
          m: {driver: macvlan, options: {macvlan_mode: bridg}}
    """)
    text = str(errors)
    assert "networks.b.parent: parent does not apply to the bridge driver" in text
    assert "'bridg' is not a macvlan mode. Did you mean 'bridge'?" in text


def test_docker_url_is_checked(fail: Fail) -> None:
    errors = fail("""
        lab:
          hosts:
            h1: {docker: "host:2375"}
    """)
    assert "lab.hosts.h1.docker: 'host:2375' is not a Docker URL" in str(errors)


def test_merge_precedence_follows_yaml(load: Load) -> None:
    plan = load("""
        networks:
          a: &a {driver: macvlan, internal: true}
          b: &b {driver: ipvlan, internal: false, attachable: false}
          c:
            <<: [*a, *b]
    """)
    net = plan.network("c")
    assert (net.driver, net.internal, net.attachable) == (Driver.MACVLAN, True, False)


def test_merge_own_keys_win_and_nested_merges_follow_the_spec(load: Load) -> None:
    # yaml.org/type/merge.html: own keys beat merged ones; in a nested merge the inner
    # mapping's own keys beat what it merged, and the first map listed beats the later ones.
    plan = load("""
        networks:
          a: &a {driver: macvlan, internal: true}
          b: &b {<<: *a, internal: false}
          c:
            <<: [*b, {attachable: false, internal: true}]
            driver: bridge
    """)
    net = plan.network("c")
    assert (net.driver, net.internal, net.attachable) == (Driver.BRIDGE, False, False)
    assert plan.network("b").driver is Driver.MACVLAN


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("networks:\n  a:\n    <<: 5\n", 3, "found a scalar"),
        ("networks:\n  a: &x\n    driver: bridge\n    <<: [*x]\n", 4, "merges itself"),
        ("networks:\n  a:\n    <<: [{driver: bridge}, [1]]\n", 3, "found a sequence"),
    ],
)
def test_bad_merge_keys_name_their_line(fail: Fail, text: str, line: int, words: str) -> None:
    errors = fail(text)
    (err,) = errors.errors
    assert err.location.line == line and "bad merge key" in err.message and words in err.message


def test_publish_long_syntax_and_host_mode() -> None:
    from netcheck.scenario.values import ValueProblem, parse_publish

    assert parse_publish("published=5000,target=80,mode=host") == PublishedPort(
        proto=ProbeKind.TCP, published=5000, target=80, mode=PublishMode.HOST
    )
    assert parse_publish("5000:80") == parse_publish("published=5000,target=80")
    assert parse_publish("published=53,target=5353,protocol=udp").proto is ProbeKind.UDP
    for bad, hint in [
        ("published=5000,traget=80", "Did you mean 'target'?"),
        ("published=5000,target=80,mode=bridge", "mode is ingress or host"),
        ("published=5000", "target= is required"),
    ]:
        with pytest.raises(ValueProblem) as info:
            parse_publish(bad)
        assert hint in str(info.value.hint), (bad, info.value.hint)


def test_external_networks_and_existing_containers(load: Load) -> None:
    plan = load("""
        networks:
          prod: {external: true, name: macvlan100}
          backend: {external: true}
        endpoints:
          web: {container: web-1}
          probe1: {networks: {prod: {ip: 10.20.0.70}}}
        expectations:
          - from: probe1
            to: web@prod
            probe: icmp
          - from: probe1
            to: web@frontend  # a network only Docker knows the container is on
            probe: icmp
    """)
    prod, backend = plan.network("prod"), plan.network("backend")
    assert (prod.external, prod.driver, prod.name_on_docker) == (True, None, "macvlan100")
    assert (backend.docker_name, backend.name_on_docker) == (None, "backend")
    web = plan.endpoint("web")
    assert (web.container, web.attachments, web.listen) == ("web-1", (), ())
    att = plan.endpoint("probe1").attachments[0]
    assert str(att.ip) == "10.20.0.70" and att.location is not None and att.location.line == 6
    assert plan.adopted() == ["network 'prod'", "network 'backend'",
                              "endpoint 'web' (container web-1)"]


def test_external_network_options_and_container_extras_are_errors(fail: Fail) -> None:
    text = str(fail("""
        networks:
          prod: {external: true, parent: eth0, options: {mtu: 1400}}
        endpoints:
          web: {container: web-1, image: busybox}
    """))
    assert "networks.prod.parent: network 'prod' is external" in text
    assert "networks.prod.options: network 'prod' is external" in text
    assert "endpoints.web.image: endpoint 'web' is an existing container" in text
