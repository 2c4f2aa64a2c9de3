"""pydantic's validation errors, rewritten as `path:line: field: what is wrong. hint`."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from netcheck.errors import Location, ScenarioError
from netcheck.scenario.paths import LineMap, Path, format_path, line_of
from netcheck.scenario.schema import ERROR_TYPE, FORM_KEYS, _ExpectationBase
from netcheck.scenario.suggest import did_you_mean, hint_for, one_of
from netcheck.scenario.values import describe

_NOUNS = {"driver": "driver", "macvlan_mode": "macvlan mode", "ipvlan_mode": "ipvlan mode",
          "runtime": "runtime"}
_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _is_tag(comp: str | int) -> bool:
    return isinstance(comp, str) and (comp == "[key]" or (comp.startswith("<")
                                                          and comp.endswith(">")))


def data_path(loc: Sequence[str | int]) -> Path:
    """pydantic's loc without the union tags and key markers it inserts."""
    return tuple(c for c in loc if not _is_tag(c))


def _strip_annotated(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _tag_of(tp: Any) -> str | None:
    if get_origin(tp) is Annotated:
        for meta in tp.__metadata__:
            if isinstance(meta, Tag):
                return meta.tag
    return None


def _step(tp: Any, comp: str | int) -> Any:
    plain = _strip_annotated(tp)
    origin = get_origin(plain)
    if origin is Union or origin is types.UnionType:
        members = get_args(plain)
        for member in members:
            if _tag_of(member) == comp:
                return member
        real = [m for m in members if m is not type(None)]
        return _step(real[0], comp) if len(real) == 1 else None
    if isinstance(plain, type) and issubclass(plain, BaseModel):
        for name, info in plain.model_fields.items():
            if comp in (name, info.alias):
                return info.annotation
        return None
    if origin in (list, tuple) and isinstance(comp, int):
        return get_args(plain)[0]
    if origin in (dict, Mapping):
        return get_args(plain)[1]
    return None


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    tp: Any = root
    for comp in loc:
        tp = _step(tp, comp)
        if tp is None:
            return None
    plain = _strip_annotated(tp)
    origin = get_origin(plain)
    if origin is Union or origin is types.UnionType:
        real = [m for m in get_args(plain) if m is not type(None)]
        plain = _strip_annotated(real[0]) if len(real) == 1 else None
    return plain if isinstance(plain, type) and issubclass(plain, BaseModel) else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _form_name(model: type[BaseModel]) -> str:
    return {"MeshExpectation": "a mesh", "IsolatedExpectation": "an isolated"}.get(
        model.__name__, "a from/to"
    )


def _choices(model: type[BaseModel] | None, err: ErrorDetails) -> list[str]:
    """The values an enum/literal error would have accepted."""
    field = err["loc"][-1] if err["loc"] else None
    if model is not None and isinstance(field, str):
        for name, info in model.model_fields.items():
            if field in (name, info.alias):
                tp = _strip_annotated(info.annotation)
                for member in get_args(tp) or (tp,):
                    member = _strip_annotated(member)
                    if isinstance(member, type) and issubclass(member, Enum):
                        return [str(e.value) for e in member]
                    if get_origin(member) is Literal:
                        return [str(a) for a in get_args(member)]
    expected = str((err.get("ctx") or {}).get("expected", ""))
    return re.findall(r"'([^']*)'", expected)


def _explain(root: type[BaseModel], err: ErrorDetails) -> tuple[Path, str, str | None]:
    """(path the error is about, message, hint)."""
    loc = err["loc"]
    path = data_path(loc)
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == ERROR_TYPE:
        hint = ctx.get("hint")
        return path, str(ctx.get("message", err["msg"])), str(hint) if hint else None
    if kind == "missing":
        return path, f"missing required key '{path[-1]}'", None
    if kind == "extra_forbidden":
        key = str(path[-1])
        owner = model_at(root, loc[:-1])
        if owner is not None and issubclass(owner, _ExpectationBase) and key in (
            *FORM_KEYS, "to", "server", "reachable"
        ):
            if key == "reachable":
                return path, "an isolated expectation is always reachable: false", \
                    "remove 'reachable'"
            return path, f"'{key}' cannot be used in {_form_name(owner)} expectation", \
                "An expectation is one of: from/to, mesh, isolated"
        keys = _keys_of(owner) if owner is not None else []
        return path, f"unknown key '{key}'", hint_for(key, keys, "keys") if keys else None
    if kind in ("enum", "literal_error"):
        owner = model_at(root, loc[:-1])
        choices = _choices(owner, err)
        noun = _NOUNS.get(str(path[-1]) if path else "", "valid value")
        word = str(value)
        hint = did_you_mean(word, choices) or (f"Use one of {one_of(choices)}" if choices else None)
        return path, f"{describe(value)} is not a {noun}", hint
    if kind in _TYPE_WORDS:
        return path, f"expected {_TYPE_WORDS[kind]}, got {describe(value)}", None
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return path, f"needs at least {least} item{'s' if least != 1 else ''}", None
    if kind in ("list_or_map", "expectation_form"):
        return path, f"{err['msg']}, got {describe(value)}", None
    message = err["msg"]
    if message.startswith("Input should"):
        message = f"{describe(value)} should{message[len('Input should'):]}"
    return path, message, None


def from_validation_error(
    exc: ValidationError, root: type[BaseModel], source: str, lines: LineMap
) -> list[ScenarioError]:
    out: list[ScenarioError] = []
    seen: set[tuple[Path, str]] = set()
    for err in exc.errors(include_url=False):
        path, message, hint = _explain(root, err)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        # A missing key has no line: point at the mapping that lacks it.
        where = path[:-1] if err["type"] == "missing" else path
        shown = path[:-1] if err["type"] == "missing" else path
        # `probe: tcp` is validated as the list [tcp]: name the key, not an item never written.
        while len(shown) > 1 and isinstance(shown[-1], int) and shown not in lines:
            shown = shown[:-1]
        field = format_path(shown)
        out.append(
            ScenarioError(Location(path=source, line=line_of(lines, where)), field, message, hint)
        )
    return out
