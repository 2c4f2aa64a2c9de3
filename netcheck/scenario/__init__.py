"""Scenario files: YAML in, a validated, frozen `netcheck.model.plan.Plan` out.

`load_plan(path, overrides)` raises `netcheck.errors.ScenarioErrors` (each error with its
file:line, field path, message and hint) on any bad input; `json_schema()` describes the
format for editors, and is shipped as `schema.json` beside this file.
"""

from __future__ import annotations

from netcheck.scenario.jsonschema import json_schema
from netcheck.scenario.loader import load_plan

__all__ = ["json_schema", "load_plan"]
