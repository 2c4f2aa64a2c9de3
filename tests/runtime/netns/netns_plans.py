"""Plans built directly in Python for the netns runtime tests (no YAML loader)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from netcheck.model.plan import (
    Attachment,
    Driver,
    Endpoint,
    Host,
    Lab,
    Lan,
    Machine,
    MacvlanMode,
    Network,
    Plan,
    Port,
    ProbeKind,
    Router,
    Subnet,
    Uplink,
)

ip = ipaddress.ip_address
net = ipaddress.ip_network


def plan(
    *,
    lab: Lab,
    networks: Iterable[Network] = (),
    endpoints: Iterable[Endpoint] = (),
    name: str = "t",
) -> Plan:
    return Plan(
        name=name,
        source="<test>",
        description=None,
        lab=lab,
        networks=tuple(networks),
        endpoints=tuple(endpoints),
        expectations=(),
    )


def macvlan(name: str, parent: str, mode: MacvlanMode, subnet: str, gateway: str,
            ip_range: str | None = None, aux: dict[str, str] | None = None) -> Network:
    return Network(
        name=name,
        driver=Driver.MACVLAN,
        parent=parent,
        macvlan_mode=mode,
        subnets=(
            Subnet(
                subnet=net(subnet),
                gateway=ip(gateway),
                ip_range=net(ip_range) if ip_range else None,
                aux_addresses={k: ip(v) for k, v in (aux or {}).items()},
            ),
        ),
    )


def ep(name: str, host: str | None, *atts: tuple[str, str | None]) -> Endpoint:
    return Endpoint(
        name=name,
        host=host,
        attachments=tuple(Attachment(network=n, ip=ip(a) if a else None) for n, a in atts),
        listen=(Port(proto=ProbeKind.TCP, number=80),),
    )


def quickstart(n_endpoints: int = 2) -> Plan:
    """Docker's macvlan pub_net example on a lab LAN (the quickstart scenario)."""
    lan = Lan(name="lan", subnet=net("172.16.86.0/24"), gateway=ip("172.16.86.1"))
    lab = Lab(
        lans=(lan,),
        router=Router(),
        machines=(
            Machine(name="nas", lan="lan", ip=ip("172.16.86.20"),
                    listen=(Port(proto=ProbeKind.TCP, number=445),)),
        ),
        hosts=(
            Host(name="host1",
                 uplinks=(Uplink(ifname="eth0", lan="lan", ip=ip("172.16.86.250")),)),
        ),
    )
    pub = macvlan("pub_net", "eth0", MacvlanMode.BRIDGE, "172.16.86.0/24", "172.16.86.1",
                  "172.16.86.128/25", {"exclude_host": "172.16.86.250"})
    eps = [ep("c1", "host1", ("pub_net", "172.16.86.10"))]
    eps += [ep(f"c{i}", "host1", ("pub_net", None)) for i in range(2, n_endpoints + 1)]
    return plan(lab=lab, networks=[pub], endpoints=eps, name="quickstart")


def modes() -> Plan:
    """One host, one parent per macvlan mode; vepa once without and once with hairpin."""
    lan = Lan(name="lan", subnet=net("10.50.0.0/24"), gateway=ip("10.50.0.1"))
    hp = Lan(name="hp", subnet=net("10.51.0.0/24"), gateway=ip("10.51.0.1"), hairpin=True)
    host = Host(
        name="host1",
        uplinks=(
            Uplink(ifname="eth0", lan="lan", ip=ip("10.50.0.250")),
            Uplink(ifname="eth1", lan="lan"),
            Uplink(ifname="trunk0.100", lan="lan"),
            Uplink(ifname="eth3", lan="hp", ip=ip("10.51.0.250")),
            Uplink(ifname="eth4", lan="lan"),
        ),
    )
    lab = Lab(
        lans=(lan, hp),
        router=Router(),
        machines=(Machine(name="nas", lan="lan", ip=ip("10.50.0.20")),),
        hosts=(host,),
    )
    networks = [
        macvlan("mvb", "eth0", MacvlanMode.BRIDGE, "10.50.0.0/24", "10.50.0.1", "10.50.0.16/28"),
        macvlan("mvp", "eth1", MacvlanMode.PRIVATE, "10.50.0.0/24", "10.50.0.1", "10.50.0.32/28"),
        macvlan("mvv", "trunk0.100", MacvlanMode.VEPA, "10.50.0.0/24", "10.50.0.1",
                "10.50.0.48/28"),
        macvlan("mvh", "eth3", MacvlanMode.VEPA, "10.51.0.0/24", "10.51.0.1", "10.51.0.16/28"),
        macvlan("mvt", "eth4", MacvlanMode.PASSTHRU, "10.50.0.0/24", "10.50.0.1",
                "10.50.0.64/28"),
        Network(name="brn", driver=Driver.BRIDGE,
                subnets=(Subnet(subnet=net("172.30.0.0/24")),)),
    ]
    endpoints = [
        ep("b1", "host1", ("mvb", None)), ep("b2", "host1", ("mvb", None)),
        ep("p1", "host1", ("mvp", None)), ep("p2", "host1", ("mvp", None)),
        ep("v1", "host1", ("mvv", None)), ep("v2", "host1", ("mvv", None)),
        ep("h1", "host1", ("mvh", None)), ep("h2", "host1", ("mvh", None)),
        ep("t1", "host1", ("mvt", None)),
        ep("d1", "host1", ("brn", None)), ep("d2", "host1", ("brn", None), ("mvb", None)),
    ]
    return plan(lab=lab, networks=networks, endpoints=endpoints, name="modes")
