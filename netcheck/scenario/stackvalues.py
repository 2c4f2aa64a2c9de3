"""Parsers for a lab node's IP stack: policy rules, routing tables, extra addresses and
static neighbours, in the words `ip rule`, `ip route ... table`, `ip address` and
`ip neigh` use."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from netcheck.model.plan import TABLE_NAMES, IPAddress, IPNetwork, NudState
from netcheck.scenario.values import ValueProblem, describe, parse_ifname

# The kernel's table ids are u32; 0 is "unspecified" and 253-255 are its own tables.
MAX_TABLE = 2**32 - 1
MAX_PRIORITY = 2**32 - 1
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def parse_prefix(value: object) -> IPNetwork:
    """`10.51.0.10` (one address: /32 or /128, as `ip rule from` reads it) or a subnet."""
    if not isinstance(value, str):
        raise ValueProblem(f"expected an address or a subnet, got {describe(value)}")
    text = value.strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueProblem(
            f"{describe(value)} is not an address or a subnet: {exc}",
            "Write an address (10.51.0.10) or a subnet with zero host bits (10.51.0.0/24)",
        ) from exc


def parse_table(value: object) -> int:
    """A table id (1-4294967295, not 253-255) or main/local/default."""
    if isinstance(value, bool):
        raise ValueProblem(f"expected a table number or name, got {describe(value)}")
    if isinstance(value, str):
        if value in TABLE_NAMES:
            return TABLE_NAMES[value]
        if not value.strip().isdigit():
            raise ValueProblem(f"{describe(value)} is not a routing table",
                               "Use a number (e.g. 100) or main, local, default")
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= MAX_TABLE:
        raise ValueProblem(f"{describe(value)} is not a routing table number",
                           f"Use 1-{MAX_TABLE}, or main, local, default")
    return value


def parse_priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRIORITY:
        raise ValueProblem(f"{describe(value)} is not a rule priority",
                           "Use a number 0-4294967295 (ip rule add ... priority N)")
    return value


def parse_mac(value: object) -> str:
    if not isinstance(value, str) or not _MAC.match(value.strip()):
        raise ValueProblem(f"{describe(value)} is not a MAC address",
                           "Write six hex pairs: 02:42:0a:33:00:01")
    return value.strip().lower()


def parse_address(value: object) -> tuple[IPAddress, int, str | None, bool]:
    """`ADDRESS[/PREFIX] [dev IF]` or {address, dev, duplicate}: (ip, prefixlen, dev,
    duplicate allowed). No prefix means one address (/32, /128), as `ip address add`."""
    duplicate = False
    dev: str | None = None
    if isinstance(value, str):
        words = value.split()
        if not words or len(words) not in (1, 3) or (len(words) == 3 and words[1] != "dev"):
            raise ValueProblem(f"cannot read address {describe(value)}",
                               "Write 'ADDRESS/PREFIX dev IF', e.g. '10.51.0.11/24 dev eth0'")
        text = words[0]
        if len(words) == 3:
            dev = parse_ifname(words[2])
    elif isinstance(value, Mapping):
        unknown = set(value) - {"address", "dev", "duplicate"}
        if unknown or "address" not in value:
            raise ValueProblem(
                "an address has the fields address, dev and duplicate",
                "Write e.g. {address: 10.51.0.11/24, dev: eth0}",
            )
        text = value["address"]
        if not isinstance(text, str):
            raise ValueProblem(f"expected an address, got {describe(text)}")
        if value.get("dev") is not None:
            dev = parse_ifname(value["dev"])
        duplicate = parse_duplicate(value.get("duplicate"))
    else:
        raise ValueProblem(f"expected an address, got {describe(value)}",
                           "Write 'ADDRESS/PREFIX dev IF', e.g. '10.51.0.11/24 dev eth0'")
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError as exc:
        raise ValueProblem(f"{describe(text)} is not an address: {exc}") from exc
    return iface.ip, iface.network.prefixlen, dev, duplicate


def parse_duplicate(value: object) -> bool:
    """`duplicate: allowed`: this address may be held by another node as well."""
    if value is None:
        return False
    if value != "allowed":
        raise ValueProblem(f"duplicate: {describe(value)} is not a choice",
                           "Write duplicate: allowed (or leave it out)")
    return True


def parse_nud(value: object) -> NudState:
    """`state: stale`: the nud state of a static neighbour entry, as `ip neigh` spells it."""
    words = [s.value for s in NudState]
    if isinstance(value, str) and value.strip().lower() in words:
        return NudState(value.strip().lower())
    raise ValueProblem(f"{describe(value)} is not a neighbour state",
                       f"Use one of {', '.join(words)} (ip neigh ... nud STATE)")
