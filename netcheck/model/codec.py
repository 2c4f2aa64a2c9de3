"""The one codec for every record netcheck stores: frozen dataclasses <-> JSON-ready values.

Encoding and decoding follow the dataclasses' type hints, so a field added to a model is
carried without touching this file; a type this module does not know fails loudly (the
round-trip tests catch it). Addresses, networks and enums are strings. A union of
dataclasses (a node's probe site) is told apart by the class's `KIND`, written as `"kind"`
beside its fields. Unknown keys are ignored (a newer netcheck may add fields an older one
skips); a missing field takes its default. Older spellings are rewritten first by the
functions in `UPGRADES`. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import gc
import ipaddress
import operator
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from functools import cache
from typing import Any, TypeVar, cast

import netcheck
from netcheck.errors import EXIT_USAGE, NetcheckError
from netcheck.model.results import Node, RunRecord, Topology
from netcheck.model.sites import NamespacePath

_ADDRESS_TYPES = frozenset({ipaddress.IPv4Address, ipaddress.IPv6Address})
_NETWORK_TYPES = frozenset({ipaddress.IPv4Network, ipaddress.IPv6Network})
_NONE = type(None)
_T = TypeVar("_T")


class RecordFormatError(NetcheckError):
    """A stored document that does not decode into the model this version has."""

    exit_code = EXIT_USAGE


def fail(where: str, message: str) -> RecordFormatError:
    return RecordFormatError(f"{where or 'record'}: {message}")


# --- encoding ---------------------------------------------------------------------------------


_PLAIN = (type(None), bool, int, float, str)
# Per class, the function that encodes its values: the type hints and dataclass fields are
# read once per class, not once per value (a 250-endpoint run has 62,250 verdicts).
_ENCODERS: dict[type, Callable[[Any], Any]] = {}


def encode(value: object) -> Any:
    cls = type(value)
    enc = _ENCODERS.get(cls)
    if enc is None:
        enc = _ENCODERS[cls] = _encoder_for(cls)
    return enc(value)


def _same(value: Any) -> Any:
    return value


def _encoder_for(cls: type) -> Callable[[Any], Any]:
    # Enums first: a StrEnum is also a str.
    if issubclass(cls, Enum):
        return operator.attrgetter("_value_")  # what `.value` returns, without its descriptor
    if cls in _PLAIN or issubclass(cls, bool | int | float | str):
        return _same
    if dataclasses.is_dataclass(cls):
        return _dataclass_encoder(cls)
    if cls in _ADDRESS_TYPES or cls in _NETWORK_TYPES:
        return str
    if issubclass(cls, Mapping):
        return lambda v: {str(k): x if x.__class__ in _PLAIN_SET else encode(x)
                          for k, x in v.items()}
    if issubclass(cls, tuple | list):
        return lambda v: [x if x.__class__ in _PLAIN_SET else encode(x) for x in v]
    raise TypeError(f"cannot encode {cls.__name__}")


_PLAIN_SET = frozenset(_PLAIN)


def _dataclass_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """One function per class that builds its dict in one expression, as dataclasses makes
    its __init__: a loop over the fields cost twice as much for a 62,250-verdict record.
    A plain value (str, int, float, bool, None) is kept as it is; any other goes through
    `encode`, by its own type."""
    names = [f.name for f in dataclasses.fields(cls)]
    if not all(name.isidentifier() for name in names):
        raise TypeError(f"cannot encode {cls.__name__}: field names {names}")
    tag = getattr(cls, "KIND", None)
    items = [] if tag is None else ['"kind": _tag']
    items += [f"{name!r}: _x{i} if (_x{i} := v.{name}).__class__ in _plain else _encode(_x{i})"
              for i, name in enumerate(names)]
    source = f"def encode_dataclass(v):\n    return {{{', '.join(items)}}}\n"
    scope: dict[str, Any] = {"_tag": tag, "_plain": _PLAIN_SET, "_encode": encode}
    exec(source, scope)  # noqa: S102  (the source is made of field names, checked above)
    return cast("Callable[[Any], dict[str, Any]]", scope["encode_dataclass"])


# --- decoding ---------------------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _expect(kind: type, data: Any, where: str, what: str) -> None:
    if not isinstance(data, kind):
        raise fail(where, f"expected {what}, got {type(data).__name__}")


def _parse_text(parse: Callable[[str], Any], data: Any, where: str) -> Any:
    _expect(str, data, where, "a string")
    try:
        return parse(data)
    except ValueError as exc:
        raise fail(where, str(exc)) from None


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    nullable = _NONE in args
    members = frozenset(a for a in args if a is not _NONE)
    inner: Decoder
    if members == _ADDRESS_TYPES:
        def inner(data: Any, where: str) -> Any:
            return _parse_text(ipaddress.ip_address, data, where)
    elif members == _NETWORK_TYPES:
        def inner(data: Any, where: str) -> Any:
            return _parse_text(ipaddress.ip_network, data, where)
    elif len(members) == 1:
        inner = _decoder(next(iter(members)))
    else:
        tagged = {getattr(m, "KIND", None): m for m in members}
        if not all(isinstance(tag, str) for tag in tagged) or len(tagged) != len(members):
            raise TypeError(f"no decoder for a union of {sorted(map(str, members))}")
        known = ", ".join(sorted(str(t) for t in tagged))

        def inner(data: Any, where: str) -> Any:
            _expect(dict, data, where, "an object")
            kind = data.get("kind")
            member = tagged.get(kind) if isinstance(kind, str) else None
            if member is None:
                raise fail(f"{where}.kind", f"{data.get('kind')!r} is not one of {known}")
            return decode_dataclass(member, data, where)

    def decode_union(data: Any, where: str) -> Any:
        if data is None:
            if nullable:
                return None
            raise fail(where, "must not be null")
        return inner(data, where)

    return decode_union


def _scalar_decoder(tp: type) -> Decoder:
    """The decoder of one scalar type, chosen once per type (a 62,250-verdict record has
    1.4 million scalars; choosing per value was half the decoding time)."""
    if issubclass(tp, Enum):
        def decode_enum(data: Any, where: str) -> Any:
            try:
                return tp(data)
            except ValueError:
                raise fail(where, f"{data!r} is not a {tp.__name__}") from None

        return decode_enum
    if tp in _ADDRESS_TYPES or tp in _NETWORK_TYPES or (issubclass(tp, str) and tp is not str):
        return lambda data, where: _parse_text(tp, data, where)  # a word type checks its text
    # bool is an int in Python, never in a record; JSON does not keep 1.0 apart from 1.
    accepted = {float: (int, float), int: (int,), bool: (bool,), str: (str,)}.get(tp)
    if accepted is None:
        raise TypeError(f"no decoder for {tp}")

    def wrong(data: Any, where: str) -> RecordFormatError:
        return fail(where, f"expected {tp.__name__}, got {data!r}")

    if tp is str or tp is bool:
        def decode_exact(data: Any, where: str) -> Any:
            if isinstance(data, tp):
                return data
            raise wrong(data, where)

        return decode_exact
    def decode_number(data: Any, where: str) -> Any:
        if not isinstance(data, accepted) or isinstance(data, bool):
            raise wrong(data, where)
        return float(data) if tp is float else data

    return decode_number


Decoder = Callable[[Any, str], Any]


def decode(tp: Any, data: Any, where: str = "") -> Any:
    """`data` (parsed JSON) as a value of type `tp`; RecordFormatError names where it is wrong."""
    return _decoder(tp)(data, where)


@cache
def _decoder(tp: Any) -> Decoder:
    """The function that decodes values of type `tp`, made once per type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union_decoder(args)
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"no decoder for {tp}")
        item = _decoder(args[0])

        def decode_tuple(data: Any, where: str) -> tuple[Any, ...]:
            _expect(list, data, where, "a list")
            return tuple(item(value, f"{where}[{i}]") for i, value in enumerate(data))

        return decode_tuple
    if origin in (Mapping, dict):
        key, value = _decoder(args[0]), _decoder(args[1])

        def decode_mapping(data: Any, where: str) -> dict[Any, Any]:
            _expect(dict, data, where, "an object")
            return {key(k, f"{where}.<key>"): value(v, f"{where}.{k}") for k, v in data.items()}

        return decode_mapping
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return lambda data, where: decode_dataclass(tp, data, where)
    if isinstance(tp, type):
        _scalar_check(tp)
        return _scalar_decoder(tp)
    raise TypeError(f"no decoder for {tp}")


def _scalar_check(tp: type) -> None:
    if not (issubclass(tp, Enum | str) or tp in _ADDRESS_TYPES or tp in _NETWORK_TYPES
            or tp in (float, int, bool)):
        raise TypeError(f"no decoder for {tp}")


@cache
def _fields(cls: type) -> tuple[tuple[str, Decoder, bool], ...]:
    """(name, decoder, required) of each init field of a dataclass."""
    hints = _hints(cls)
    return tuple(
        (f.name, _decoder(hints[f.name]),
         f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
        if f.init
    )


def decode_dataclass(cls: type[_T], data: Any, where: str = "") -> _T:
    _expect(dict, data, where, "an object")
    rewrite = _UPGRADES.get(cls)
    if rewrite is not None:
        data = rewrite(data)
    try:
        fields = _fields(cls)  # type: ignore[arg-type]  # a class is hashable
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    kwargs: dict[str, Any] = {}
    for name, dec, required in fields:
        if name in data:
            kwargs[name] = dec(data[name], f"{where}.{name}" if where else name)
        elif required:
            raise fail(f"{where}.{name}" if where else name, "missing")
    return cls(**kwargs)


# --- older documents --------------------------------------------------------------------------


def _node_site_from_netns(data: dict[str, Any]) -> dict[str, Any]:
    """Records before typed probe sites kept a node's namespace as a string: a path."""
    if "site" in data or not isinstance(data.get("netns"), str):
        return data
    return data | {"site": {"kind": NamespacePath.KIND, "path": data["netns"]}}


def _environment_from_facts(data: dict[str, Any]) -> dict[str, Any]:
    """Records before typed environments had it only among the facts, under these keys
    (written by the engine itself, so every such record has them)."""
    facts = data.get("facts")
    if "environment" in data or not isinstance(facts, dict):
        return data
    keys = ("kernel", "hostname", "netcheck_version", "python")
    if not all(isinstance(facts.get(k), str) for k in keys):
        return data
    env = {k: facts[k] for k in keys}
    docker = {k: facts.get(f"docker.{k}") for k in ("server_version", "api_version", "mode")}
    if all(isinstance(v, str) for v in docker.values()):
        env["docker"] = docker
    return data | {"environment": env}


def _lab_netns_from_facts(data: dict[str, Any]) -> dict[str, Any]:
    """Records before `Topology.lab_netns` listed the namespaces in the `netns` fact only
    ("nc-<run>-sw,nc-<run>-m1"); read it, for those records alone."""
    facts, run_id = data.get("facts"), data.get("run_id")
    if "lab_netns" in data or not isinstance(facts, dict) or not isinstance(run_id, str):
        return data
    prefix = f"nc-{run_id}-"
    names = str(facts.get("netns", "")).split(",")
    found = {n.removeprefix(prefix): f"/run/netns/{n}" for n in names if n.startswith(prefix)}
    return data | {"lab_netns": found}


# Older spellings of a dataclass's fields, rewritten before it is decoded.
_UPGRADES: dict[type, Callable[[dict[str, Any]], dict[str, Any]]] = {
    Node: _node_site_from_netns,
    RunRecord: _environment_from_facts,
    Topology: _lab_netns_from_facts,
}


# --- the run record document ------------------------------------------------------------------

# Bump when a field changes meaning or type; adding a field with a default does not need it
# (an older record then loads with the default, or through an upgrade above).
SCHEMA_VERSION = 1


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    """The JSON report: the record's fields plus `schema_version`, `generator`, `ok` and
    `counts` at the top (derived; ignored on load)."""
    body = encode(record)
    assert isinstance(body, dict)
    head: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "netcheck", "version": netcheck.__version__},
        "ok": record.ok,
        "counts": {outcome.value: n for outcome, n in record.counts().items()},
    }
    return head | body


def record_head(record: RunRecord) -> dict[str, Any]:
    """record_to_dict without the `verdicts` key: for a writer that encodes the verdicts one
    at a time (62,250 of them as dicts at once were 150 MB)."""
    head = record_to_dict(dataclasses.replace(record, verdicts=()))
    del head["verdicts"]
    return head | {
        "ok": record.ok, "counts": {outcome.value: n for outcome, n in record.counts().items()},
    }


def record_from_dict(data: Any) -> RunRecord:
    if not isinstance(data, dict):
        raise fail("", "not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise fail(
            "schema_version",
            f"{version!r} is not supported (this netcheck reads {SCHEMA_VERSION})",
        )
    with gc_paused():
        return decode_dataclass(RunRecord, data)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: for making or writing out a big record. Its
    objects (a 62,250-verdict record is millions) form no cycles, and each full collection
    the allocations start walks all of them: 2-3 passes of 0.3 s per report written, a
    third of the time of decoding one."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

