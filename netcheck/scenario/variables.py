"""`${VAR}` and `${VAR:-default}` substitution in scalars; `$${` writes a literal `${`.

Precedence: overrides (CLI --set) > the file's `variables:` > the `:-default` in the text.
The environment is deliberately not consulted: a scenario must mean the same on every machine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from netcheck.scenario.suggest import did_you_mean

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class VariableProblem(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(slots=True)
class Substituter:
    values: Mapping[str, str]
    # Every variable a substitution used, with the value it got: Plan.variables.
    used: dict[str, str] = field(default_factory=dict)

    def substitute(self, text: str) -> str:
        if "$" not in text:
            return text
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch != "$":
                out.append(ch)
                i += 1
                continue
            if text.startswith("$${", i):
                out.append("${")
                i += 3
                continue
            if not text.startswith("${", i):
                out.append(ch)
                i += 1
                continue
            end = text.find("}", i + 2)
            if end < 0:
                raise VariableProblem(
                    f"unclosed variable reference in {text!r}",
                    "Write ${NAME} or ${NAME:-default}; $${ for a literal '${'",
                )
            out.append(self._value(text[i + 2 : end]))
            i = end + 1
        return "".join(out)

    def _value(self, body: str) -> str:
        name, sep, default = body.partition(":-")
        if not NAME.match(name):
            raise VariableProblem(
                f"'${{{body}}}' is not a variable reference",
                "Write ${NAME} or ${NAME:-default}; $${ for a literal '${'",
            )
        if name in self.values:
            value = self.values[name]
        elif sep:
            value = default
        else:
            hint = did_you_mean(name, self.values) or (
                f"Set it with --set {name}=VALUE, under variables:, "
                f"or give a default: ${{{name}:-VALUE}}"
            )
            raise VariableProblem(f"variable '{name}' is not set", hint)
        self.used[name] = value
        return value
