"""load_plan: file -> YAML with lines -> variables -> pydantic -> cross checks -> Plan."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from pydantic import ValidationError

from netcheck.errors import ScenarioError, ScenarioErrors
from netcheck.model.plan import Plan
from netcheck.scenario.context import Context
from netcheck.scenario.diagnostics import from_validation_error
from netcheck.scenario.resolve import Resolver
from netcheck.scenario.schema import ScenarioSpec
from netcheck.scenario.yamlsource import load_document

log = logging.getLogger(__name__)


def _raise(errors: list[ScenarioError]) -> ScenarioErrors:
    return ScenarioErrors(sorted(errors, key=lambda e: e.location.line))


def load_plan(
    path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None
) -> Plan:
    """Load, validate and resolve a scenario file. Raises `ScenarioErrors` on any bad input."""
    doc = load_document(path, overrides)
    try:
        spec = ScenarioSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise _raise(from_validation_error(exc, ScenarioSpec, doc.source, doc.lines)) from None
    ctx = Context(doc.source, doc.lines)
    plan = Resolver(spec, ctx, doc.variables).run()
    if ctx.errors:
        raise _raise(ctx.errors)
    log.debug("loaded %s: %d expectations, %d warnings", doc.source, len(plan.expectations),
              len(plan.warnings))
    return plan
