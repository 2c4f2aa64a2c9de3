"""Parsers for the small languages inside scalars: addresses, subnets, ports, probes, names.

Pure functions raising `ValueProblem(message, hint)`; the schema wraps them for pydantic and
the resolver reuses them, so a value means the same everywhere.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from netcheck.model.plan import (
    IPAddress,
    IPNetwork,
    Port,
    ProbeKind,
    ProbeSpec,
    PublishedPort,
    PublishMode,
)
from netcheck.probes.kinds import Argument, Syntax, registered
from netcheck.scenario.suggest import did_you_mean, hint_for

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# Linux caps interface names at 15 bytes and forbids '/', ':' and whitespace.
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
MAX_ICMP_PAYLOAD = 65507


class ValueProblem(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def describe(value: object) -> str:
    """A short, user-facing rendering of a value in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def parse_name(value: object, what: str = "name") -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"expected a {what}, got {describe(value)}")
    if not NAME_RE.match(value):
        raise ValueProblem(
            f"{describe(value)} is not a valid {what}",
            "Use letters, digits, '_', '.' and '-', starting with a letter or digit "
            "(at most 63)",
        )
    return value


def parse_ifname(value: object) -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"expected an interface name, got {describe(value)}")
    if not IFNAME_RE.match(value):
        raise ValueProblem(
            f"{describe(value)} is not an interface name",
            "Linux interface names are 1-15 characters of letters, digits, '_', '.', '-'",
        )
    return value


def parse_ip(value: object) -> IPAddress:
    if not isinstance(value, str):
        raise ValueProblem(f"expected an IP address, got {describe(value)}")
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        pass
    if "/" in value:
        head = value.split("/", 1)[0].strip()
        raise ValueProblem(
            f"{describe(value)} is not an IP address (it has a prefix length)",
            f"Did you mean '{head}'?",
        )
    raise ValueProblem(f"{describe(value)} is not an IP address")


def parse_network(value: object) -> IPNetwork:
    if not isinstance(value, str):
        raise ValueProblem(f"expected a subnet in CIDR form, got {describe(value)}")
    text = value.strip()
    if "/" not in text:
        raise ValueProblem(
            f"{describe(value)} is not a subnet: it has no prefix length",
            "Write it in CIDR form, e.g. '172.16.86.0/24'",
        )
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueProblem(
            f"{describe(value)} is not a subnet in CIDR form",
            "Write it like '172.16.86.0/24' or 'fd00:1::/64'",
        ) from None
    raise ValueProblem(f"{describe(value)} has host bits set", f"Did you mean '{loose}'?")


def _number(text: str, what: str, low: int, high: int) -> int:
    if not text.isdigit():
        raise ValueProblem(f"{describe(text)} is not a {what}")
    number = int(text)
    if not low <= number <= high:
        raise ValueProblem(f"{what} {number} is out of range {low}-{high}")
    return number


def port_words(text: str) -> tuple[str, str] | None:
    """The one port syntax: `tcp/80`, or Docker's `80/tcp`, as (protocol word, number text);
    None unless the text is two words around one '/'. Ports and firewall rules read it."""
    a, slash, b = text.partition("/")
    if not slash or "/" in b:
        return None
    return (b, a) if a.isdigit() else (a, b)


def port_number(text: str) -> int:
    return _number(text, "port", 1, 65535)


def parse_port(value: object) -> Port:
    """`tcp/80`, or Docker's `80/tcp`."""
    if not isinstance(value, str):
        raise ValueProblem(
            f"expected a port like 'tcp/80', got {describe(value)}",
            "Write the protocol too: 'tcp/80' or 'udp/53'",
        )
    words = port_words(value.strip().lower())
    if words is None or words[0] not in ("tcp", "udp"):
        raise ValueProblem(
            f"{describe(value)} is not a port", "Write 'tcp/PORT' or 'udp/PORT', e.g. 'tcp/80'"
        )
    return Port(proto=ProbeKind(words[0]), number=port_number(words[1]))


_PUBLISH_KEYS = ("published", "target", "protocol", "mode")


def _publish_long(value: str) -> PublishedPort:
    """Docker's long syntax: `published=5000,target=80[,protocol=udp][,mode=host]`."""
    fields: dict[str, str] = {}
    for item in value.split(","):
        key, eq, val = item.strip().partition("=")
        if not eq or key not in _PUBLISH_KEYS or key in fields:
            hint = did_you_mean(key, _PUBLISH_KEYS) if key not in _PUBLISH_KEYS else None
            raise ValueProblem(
                f"{describe(value)} is not a published port",
                hint or "Write 'published=5000,target=80[,protocol=udp][,mode=host]'",
            )
        fields[key] = val.strip()
    proto = fields.get("protocol", "tcp")
    mode = fields.get("mode", "ingress")
    if proto not in ("tcp", "udp") or mode not in ("ingress", "host") or "target" not in fields:
        raise ValueProblem(
            f"{describe(value)} is not a published port",
            "target= is required; protocol is tcp or udp; mode is ingress or host",
        )
    return PublishedPort(
        proto=ProbeKind(proto),
        published=_number(fields.get("published", ""), "published port", 1, 65535),
        target=_number(fields["target"], "target port", 1, 65535),
        mode=PublishMode(mode),
    )


def parse_publish(value: object) -> PublishedPort:
    """Docker's `--publish PUBLISHED:TARGET[/udp]` (`5000:80`, `5353:53/udp`), or its long
    syntax `published=5000,target=80[,protocol=udp][,mode=host]`."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueProblem(
            f"expected a published port like '5000:80', got {describe(value)}",
            "Write 'PUBLISHED:TARGET' (as docker service create -p), e.g. '5000:80'",
        )
    text = value.strip().lower()
    if "=" in text:
        return _publish_long(text)
    ports, _, proto = text.partition("/")
    published, colon, target = ports.partition(":")
    if not colon or proto not in ("", "tcp", "udp"):
        raise ValueProblem(f"{describe(value)} is not a published port",
                           "Write 'PUBLISHED:TARGET' or 'PUBLISHED:TARGET/udp', e.g. '5000:80'")
    return PublishedPort(
        proto=ProbeKind(proto or "tcp"),
        published=_number(published, "published port", 1, 65535),
        target=_number(target, "target port", 1, 65535),
    )


# --- probes: the kinds and their syntax come from the registry (netcheck.probes.kinds) ------

# How each argument is written after the word: the text form, in hints and the schema, and
# the JSON Schema pattern of that text.
_ARGUMENT_FORMS: dict[Argument, tuple[str, str]] = {
    Argument.PORT: ("PORT", "[0-9]+"),
    Argument.DF_SIZE: ("df/SIZE", "df/[0-9]+"),
    Argument.NAME: ("NAME", r"\S+"),
}


# What a probe without its argument lacks: (what it needs, the form, an example).
_MISSING: dict[Argument, tuple[str, str, str]] = {
    Argument.PORT: ("a port", "PORT", "80"),
    Argument.DF_SIZE: ("a size", "df/SIZE", "df/1400"),
    Argument.NAME: ("a name to resolve", "NAME", "c2"),
}


def probe_syntax() -> dict[str, Syntax]:
    """Every probe kind's word and how it is written, in listing order."""
    return {word: kind.syntax for word, kind in registered().items()}


def probe_kinds() -> list[str]:
    return list(probe_syntax())


def probe_forms(*, pattern: bool = False) -> list[str]:
    """Each way a probe is written (`arp`, `icmp`, `icmp/df/SIZE`, `tcp/PORT`...), or with
    `pattern`, each as a regular expression (a word is letters, digits and '-' only)."""
    out: list[str] = []
    for word, syntax in probe_syntax().items():
        if syntax.argument is None or syntax.optional:
            out.append(word)
        if syntax.argument is not None:
            form, regex = _ARGUMENT_FORMS[syntax.argument]
            out.append(f"{word}/{regex if pattern else form}")
    return out


def _probes_hint() -> str:
    return "Probes: " + ", ".join(probe_forms())


def parse_probe(value: object) -> ProbeSpec:
    if isinstance(value, Mapping):
        return _probe_mapping(value)
    if not isinstance(value, str):
        raise ValueProblem(f"expected a probe, got {describe(value)}", _probes_hint())
    text = value.strip()
    word, _, rest = text.partition("/")
    kind = word.lower()
    kinds = probe_syntax()
    syntax = kinds.get(kind)
    if syntax is None:
        if word.isdigit() and rest.lower() in ("tcp", "udp"):
            raise ValueProblem(
                f"{describe(value)} is not a probe", f"Did you mean '{rest.lower()}/{word}'?"
            )
        raise ValueProblem(
            f"{describe(value)} is not a probe", did_you_mean(word, kinds) or _probes_hint()
        )
    probe_kind = ProbeKind(kind)
    if syntax.argument is None:
        if rest:
            raise ValueProblem(f"{describe(value)}: {kind} takes no argument",
                               f"Write '{kind}'")
        return ProbeSpec(kind=probe_kind)
    if not rest:
        if syntax.optional:
            return ProbeSpec(kind=probe_kind)
        needs, form, example = _MISSING[syntax.argument]
        raise ValueProblem(f"{describe(value)} needs {needs}",
                           f"Write '{kind}/{form}', e.g. '{kind}/{example}'")
    if syntax.argument is Argument.DF_SIZE:
        df, _, size = rest.partition("/")
        if df.lower() != "df" or not size:
            raise ValueProblem(
                f"{describe(value)} is not an {kind} probe",
                f"Write '{kind}', or '{kind}/df/SIZE' for a ping of SIZE payload bytes "
                "with DF set",
            )
        return ProbeSpec(kind=probe_kind, size=_number(size, "size", 0, MAX_ICMP_PAYLOAD))
    if syntax.argument is Argument.NAME:
        return ProbeSpec(kind=probe_kind, qname=_qname(rest))
    return ProbeSpec(kind=probe_kind, port=port_number(rest))


def _qname(text: str) -> str:
    if not _DNS_NAME.match(text):
        raise ValueProblem(f"{describe(text)} is not a DNS name")
    return text


def _probe_mapping(value: Mapping[Any, Any]) -> ProbeSpec:
    kinds = probe_syntax()
    keys = ("kind", *(a.value for a in Argument))
    for key in value:
        if key not in keys:
            raise ValueProblem(
                f"unknown key {describe(key)} in a probe",
                hint_for(str(key), keys, "probe keys"),
            )
    kind_text = value.get("kind")
    if not isinstance(kind_text, str):
        raise ValueProblem("a probe mapping needs 'kind'", f"one of {', '.join(kinds)}")
    kind = kind_text.strip().lower()
    syntax = kinds.get(kind)
    if syntax is None:
        raise ValueProblem(
            f"{describe(kind_text)} is not a probe kind", hint_for(kind, kinds, "kinds")
        )
    argument = syntax.argument
    for key in value:
        if key != "kind" and (argument is None or key != argument.value):
            raise ValueProblem(f"'{key}' does not apply to a {kind} probe")
    text = kind
    if argument is not None and (not syntax.optional or value.get(argument.value) is not None):
        if argument.value not in value:
            raise ValueProblem(f"a {kind} probe needs '{argument.value}'")
        prefix = "df/" if argument is Argument.DF_SIZE else ""
        text += f"/{prefix}{_scalar_text(value[argument.value])}"
    return parse_probe(text)


def _scalar_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueProblem(f"expected a number or name, got {describe(value)}")
    return str(value)
