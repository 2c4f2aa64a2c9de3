"""The JSON report: the whole RunRecord, and a loader that reads it back exactly.

The document is the RunRecord's fields as they are named in netcheck.model.results, plus
`schema_version`, `generator`, `ok` and `counts` at the top (derived; ignored on load).
Addresses, networks and enums are strings. Encoding and decoding follow the dataclasses'
type hints, so a field added to the model is carried without touching this file; a field of
a type this module does not know fails loudly (and the round-trip test catches it). A union
of dataclasses (a node's probe site) is told apart by the class's `KIND`, written as
`"kind"` beside its fields.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tempfile
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import netcheck
from netcheck.errors import EXIT_USAGE, NetcheckError
from netcheck.model.results import Node, RunRecord
from netcheck.model.sites import NamespacePath
from netcheck.sigmask import signals_blocked

# Bump when a field changes meaning or type; adding a field with a default does not need it.
SCHEMA_VERSION = 1

_ADDRESS_TYPES = frozenset({ipaddress.IPv4Address, ipaddress.IPv6Address})
_NETWORK_TYPES = frozenset({ipaddress.IPv4Network, ipaddress.IPv6Network})
_NONE = type(None)


class ReportFormatError(NetcheckError):
    """A report file that is not a netcheck JSON report this version can read."""

    exit_code = EXIT_USAGE


# --- encoding ---------------------------------------------------------------------------------


def _encode(value: object) -> Any:
    # Enums first: a StrEnum is also a str.
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        tag = getattr(type(value), "KIND", None)
        return body if tag is None else {"kind": tag} | body
    if isinstance(
        value,
        ipaddress.IPv4Address
        | ipaddress.IPv6Address
        | ipaddress.IPv4Network
        | ipaddress.IPv6Network,
    ):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} in a JSON report")


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    body = _encode(record)
    assert isinstance(body, dict)
    head: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "netcheck", "version": netcheck.__version__},
        "ok": record.ok,
        "counts": {outcome.value: n for outcome, n in record.counts().items()},
    }
    return head | body


def dumps(record: RunRecord) -> str:
    return json.dumps(record_to_dict(record), indent=2, ensure_ascii=False) + "\n"


# --- decoding ---------------------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fail(where: str, message: str) -> ReportFormatError:
    return ReportFormatError(f"{where or 'report'}: {message}")


def _decode(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        if data is None:
            if _NONE in args:
                return None
            raise _fail(where, "must not be null")
        members = frozenset(a for a in args if a is not _NONE)
        if members == _ADDRESS_TYPES:
            return _decode_str(ipaddress.ip_address, data, where)
        if members == _NETWORK_TYPES:
            return _decode_str(ipaddress.ip_network, data, where)
        if len(members) == 1:
            return _decode(next(iter(members)), data, where)
        tagged: dict[str, type] = {
            str(getattr(m, "KIND", "")): m for m in members
            if isinstance(m, type) and isinstance(getattr(m, "KIND", None), str)
        }
        if len(tagged) == len(members):
            if not isinstance(data, dict):
                raise _fail(where, f"expected an object, got {type(data).__name__}")
            member = tagged.get(str(data.get("kind")))
            if member is None:
                known = ", ".join(sorted(tagged))
                raise _fail(f"{where}.kind", f"{data.get('kind')!r} is not one of {known}")
            return _decode_dataclass(member, data, where)
        raise TypeError(f"{where}: no decoder for {tp}")
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{where}: no decoder for {tp}")
        if not isinstance(data, list):
            raise _fail(where, f"expected a list, got {type(data).__name__}")
        return tuple(_decode(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
    if origin in (Mapping, dict):
        if not isinstance(data, dict):
            raise _fail(where, f"expected an object, got {type(data).__name__}")
        return {
            _decode(args[0], k, f"{where}.<key>"): _decode(args[1], v, f"{where}.{k}")
            for k, v in data.items()
        }
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError:
            raise _fail(where, f"{data!r} is not a {tp.__name__}") from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, where)
    if tp in _ADDRESS_TYPES or tp in _NETWORK_TYPES:
        return _decode_str(tp, data, where)
    if tp is float:
        # JSON does not keep 1.0 apart from 1.
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        raise _fail(where, f"expected a number, got {data!r}")
    if tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise _fail(where, f"expected an integer, got {data!r}")
    if tp is bool or tp is str:
        if isinstance(data, tp):
            return data
        raise _fail(where, f"expected {tp.__name__}, got {data!r}")
    raise TypeError(f"{where}: no decoder for {tp}")


def _decode_str(parse: Any, data: Any, where: str) -> Any:
    if not isinstance(data, str):
        raise _fail(where, f"expected a string, got {data!r}")
    try:
        return parse(data)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


def _decode_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(where, f"expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    upgrade = _UPGRADES.get(cls)
    if upgrade is not None:
        data = upgrade(data)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            kwargs[f.name] = _decode(hints[f.name], data[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _fail(path, "missing")
    # Unknown keys are ignored: a newer netcheck may add fields an older one can skip.
    return cls(**kwargs)


def _node_site_from_netns(data: dict[str, Any]) -> dict[str, Any]:
    """Reports before typed probe sites kept a node's namespace as a string: a path."""
    if "site" in data or not isinstance(data.get("netns"), str):
        return data
    return data | {"site": {"kind": NamespacePath.KIND, "path": data["netns"]}}


# Older spellings of a dataclass's fields, rewritten before it is decoded.
_UPGRADES: dict[type, Callable[[dict[str, Any]], dict[str, Any]]] = {Node: _node_site_from_netns}


def record_from_dict(data: Any) -> RunRecord:
    if not isinstance(data, dict):
        raise _fail("", "not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise _fail(
            "schema_version",
            f"{version!r} is not supported (this netcheck reads {SCHEMA_VERSION})",
        )
    record = _decode_dataclass(RunRecord, data, "")
    assert isinstance(record, RunRecord)
    return record


def load_record(path: Path | str) -> RunRecord:
    """Read a JSON report written by JsonReporter back into the model's dataclasses."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFormatError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    try:
        return record_from_dict(data)
    except ReportFormatError as exc:
        raise ReportFormatError(f"{path}: {exc}") from None


# --- writing ----------------------------------------------------------------------------------


def write_text_atomic(path: Path, text: str) -> None:
    """Write so a reader (or a crash) never sees half a report; mode 0644; make parents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A signal between mkstemp() and the `try` (or inside the cleanup) would leave the
    # temporary file behind: it waits for the end of this short write instead.
    with signals_blocked():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class JsonReporter:
    name: str = "json"

    def write(self, record: RunRecord, path: Path) -> None:
        write_text_atomic(Path(path), dumps(record))
