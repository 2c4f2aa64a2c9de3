"""One error root, so the CLI can map every failure to an exit code and a clear message."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class NetcheckError(Exception):
    """Root of every error netcheck raises on purpose."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A place in a scenario file (1-based line; 0 when unknown)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class ScenarioError(NetcheckError):
    """Bad scenario input: `path:line: field: what is wrong. hint`."""

    exit_code = EXIT_USAGE

    def __init__(
        self, location: Location, field: str, message: str, hint: str | None = None
    ) -> None:
        self.location = location
        self.field = field
        self.message = message
        self.hint = hint
        text = f"{location}: {field}: {message}" if field else f"{location}: {message}"
        if hint:
            text = f"{text}. {hint}" if not text.endswith((".", "?", "!")) else f"{text} {hint}"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class ScenarioWarning:
    """A doubt about a scenario that does not stop it: `path:line: field: message. hint`."""

    location: Location
    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.field}: {self.message}" if self.field else \
            f"{self.location}: {self.message}"
        if self.hint:
            sep = " " if text.endswith((".", "?", "!")) else ". "
            text = f"{text}{sep}{self.hint}"
        return text


class ScenarioErrors(NetcheckError):
    """Several scenario errors found in one pass; each keeps its own location."""

    exit_code = EXIT_USAGE

    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class UsageError(NetcheckError):
    exit_code = EXIT_USAGE


class EnvironmentProblem(NetcheckError):
    """The machine cannot run this: not root, no Docker, a kernel feature the whole run needs."""

    exit_code = EXIT_ENVIRONMENT


class RuntimeBuildError(NetcheckError):
    """Building the topology failed; whatever was built has been torn down."""

    exit_code = EXIT_ENVIRONMENT


class ScenarioBuildError(RuntimeBuildError):
    """The machine refused what one scenario line asks for (a route via a gateway no
    interface reaches, a sysctl value the kernel rejects, an MTU above the parent's): a
    mistake in the scenario that only building it could find. Exit 2, with that line."""

    exit_code = EXIT_USAGE

    def __init__(self, location: Location, message: str, hint: str | None = None) -> None:
        self.location = location
        self.message = message
        self.hint = hint
        text = f"{location}: {message}"
        if hint:
            text = f"{text}. {hint}" if not text.endswith((".", "?", "!")) else f"{text} {hint}"
        super().__init__(text)
