"""The JSON Schema of the scenario format, for editors (yaml-language-server and the like)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from netcheck.scenario.schema import ScenarioSpec

SCHEMA_FILE = Path(__file__).with_name("schema.json")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# `mtu: ${MTU}` is valid YAML for us: typed values may also be a variable reference.
_VARIABLE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}
_TYPED = ("integer", "number", "boolean")


def _allow_variables(node: Any) -> Any:
    if isinstance(node, list):
        return [_allow_variables(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _allow_variables(v) for k, v in node.items()}
    if out.get("type") in _TYPED or ("enum" in out and "type" not in out) or (
        out.get("type") == "string" and "enum" in out
    ):
        keep = {k: out.pop(k) for k in ("title", "description", "default") if k in out}
        return {**keep, "anyOf": [out, _VARIABLE]}
    return out


def json_schema() -> dict[str, Any]:
    schema = ScenarioSpec.model_json_schema(by_alias=True)
    schema = _allow_variables(schema)
    return {"$schema": _DIALECT, **schema}


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def write_schema_file(path: str | os.PathLike[str] = SCHEMA_FILE) -> None:
    """Regenerate the shipped schema: python -c 'from netcheck.scenario.jsonschema import
    write_schema_file; write_schema_file()'."""
    Path(path).write_text(render(), encoding="utf-8")
