"""pydantic's validation errors, rewritten as `path:line: field: what is wrong. hint`."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Step:
    """One component of pydantic's loc: a key/index of the data, or a marker pydantic added."""

    comp: str | int
    marker: bool
    tp: Any  # the type at this point (None once the walk has left the schema)


def _members(tp: Any) -> list[Any] | None:
    plain = _strip_annotated(tp)
    origin = get_origin(plain)
    if origin is Union or origin is types.UnionType:
        return [m for m in get_args(plain) if m is not type(None)]
    return None


def _branch(members: list[Any], comp: str | int) -> Any | None:
    """The union member a loc marker names: a Tag, or pydantic's label of a smart union."""
    for member in members:
        if _tag_of(member) == comp:
            return member
    if len(members) < 2 or not isinstance(comp, str):
        return None
    # Smart unions label each member: `dict[...]`, `list[...]`, a model's name, or the
    # validator (`function-plain[validate()]`). Any str there is a label, never data.
    for member in members:
        plain = _strip_annotated(member)
        origin = get_origin(plain)
        if origin is not None and comp.startswith(f"{getattr(origin, '__name__', '')}["):
            return member
        if isinstance(plain, type) and comp == plain.__name__:
            return member
    scalars = [m for m in members if get_origin(_strip_annotated(m)) not in (dict, list)]
    return scalars[0] if scalars else members[0]


def _walk(
    root: type[BaseModel], loc: Sequence[str | int], kind: str = ""
) -> list[_Step]:
    """Tell pydantic's markers from the data's own keys by walking the schema's types.

    A key the user wrote may look like a marker (`<list>:` or `[key]:`), so the shape of a
    component is never enough: only the type at that point says whether pydantic put it there
    (and the last component of an unknown-key error is always the user's key).
    """
    steps: list[_Step] = []
    tp: Any = root
    after_dict_key = False
    last = len(loc) - 1
    for index, comp in enumerate(loc):
        if kind == "extra_forbidden" and index == last:
            steps.append(_Step(comp, False, None))
            continue
        if after_dict_key and comp == "[key]":
            steps.append(_Step(comp, True, None))
            after_dict_key = False
            continue
        after_dict_key = False
        if tp is None:
            steps.append(_Step(comp, False, None))
            continue
        members = _members(tp)
        while members is not None:
            if len(members) == 1 and _tag_of(members[0]) is None:
                tp = members[0]
                members = _members(tp)
                continue
            branch = _branch(members, comp)
            break
        else:
            branch = None
        if members is not None:
            if branch is not None:
                steps.append(_Step(comp, True, branch))
                tp = branch
                continue
            tp = None
            steps.append(_Step(comp, False, None))
            continue
        plain = _strip_annotated(tp)
        origin = get_origin(plain)
        if isinstance(plain, type) and issubclass(plain, BaseModel):
            tp = None
            for name, info in plain.model_fields.items():
                if comp in (name, info.alias):
                    tp = info.annotation
        elif origin in (list, tuple) and isinstance(comp, int):
            tp = get_args(plain)[0]
        elif origin in (dict, Mapping):
            tp = get_args(plain)[1]
            after_dict_key = True
        else:
            tp = None
        steps.append(_Step(comp, False, tp))
    return steps


def data_path(loc: Sequence[str | int], root: type[BaseModel], kind: str = "") -> Path:
    """pydantic's loc without the union tags and key markers it inserts."""
    return tuple(s.comp for s in _walk(root, loc, kind) if not s.marker)


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


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    tp: Any = _walk(root, loc)[-1].tp if loc else root
    if tp is None:
        return None
    plain = _strip_annotated(tp)
    members = _members(plain)
    if members is not None:
        plain = _strip_annotated(members[0]) if len(members) == 1 else None
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
    path = data_path(loc, root, err["type"])
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


def _shape_fits(member: Any, value: Any) -> bool:
    plain = _strip_annotated(member)
    origin = get_origin(plain)
    if origin in (dict, Mapping) or (isinstance(plain, type) and issubclass(plain, BaseModel)):
        return isinstance(value, dict)
    if origin in (list, tuple):
        return isinstance(value, list)
    return not isinstance(value, dict)  # a list where neither fits: the scalar's words


def _is_label(step: _Step) -> bool:
    """A smart union's member label (a Tag is the user's own choice of branch: kept)."""
    return step.marker and step.comp != "[key]" and _tag_of(step.tp) is None


def _one_branch_each(errors: list[ErrorDetails], root: type[BaseModel]) -> list[ErrorDetails]:
    """Of a smart union's failed members, keep the ones shaped like what was written.

    `ip_range: 10.0.0.0/33` fails as a CIDR and as a per-host mapping; only the first is
    news to the user. The value at the union comes from the error of the other branch: the
    one whose loc ends at the union holds it as its input.
    """
    at_union: dict[Path, Any] = {}
    walked: list[list[_Step]] = []
    for err in errors:
        steps = _walk(root, err["loc"], err["type"])
        walked.append(steps)
        for i, step in enumerate(steps):
            if _is_label(step) and i == len(steps) - 1:
                at_union[tuple(s.comp for s in steps[:i] if not s.marker)] = err.get("input")
    kept: list[ErrorDetails] = []
    for err, steps in zip(errors, walked, strict=True):
        fits = True
        for i, step in enumerate(steps):
            prefix = tuple(s.comp for s in steps[:i] if not s.marker)
            if _is_label(step) and prefix in at_union:
                fits = fits and _shape_fits(step.tp, at_union[prefix])
        if fits:
            kept.append(err)
    return kept or errors


def from_validation_error(
    exc: ValidationError, root: type[BaseModel], source: str, lines: LineMap
) -> list[ScenarioError]:
    out: list[ScenarioError] = []
    seen: set[tuple[Path, str]] = set()
    for err in _one_branch_each(exc.errors(include_url=False), root):
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
