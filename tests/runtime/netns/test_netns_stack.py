"""The netlink requests a node's rules and routes turn into (pure: no namespace)."""

from __future__ import annotations

import ipaddress
import socket

from netcheck.model.plan import PolicyRule
from netcheck.runtime.netns.stack import rule_kwargs


class _NoLinks:
    def link_lookup(self, **_: object) -> list[int]:
        return []


def test_rule_kwargs_read_like_ip_rule() -> None:
    rule = PolicyRule(table=100, priority=100, src=ipaddress.ip_network("10.51.0.11/32"),
                      iif="eth0")
    got = rule_kwargs(_NoLinks(), "h1", rule)  # type: ignore[arg-type]
    assert got == {"family": socket.AF_INET, "table": 100, "action": "FR_ACT_TO_TBL",
                   "priority": 100, "src": "10.51.0.11", "src_len": 32, "iifname": "eth0"}


def test_a_v6_rule_is_a_v6_request() -> None:
    rule = PolicyRule(table=7, dst=ipaddress.ip_network("2001:db8::/64"))
    got = rule_kwargs(_NoLinks(), "h1", rule)  # type: ignore[arg-type]
    assert got["family"] == socket.AF_INET6 and got["dst_len"] == 64
