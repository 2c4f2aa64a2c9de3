"""Shared settings of the scenario fuzzers (test_fuzz.py, test_fuzz_inputs.py).

CI runs each with its default example count; a longer local run sets every count at once:

    NETCHECK_FUZZ_EXAMPLES=10000 .venv/bin/pytest -q tests/scenario/test_fuzz*.py \
        -k 'structures or quickstart or raw or keys' -o log_cli=true --log-cli-level=WARNING

(pure: no lab lock needed; 60,000 examples in about 10 minutes on one core). The examples
each test ran are logged at the end of a module.
"""

from __future__ import annotations

import logging
import os

from hypothesis import HealthCheck, settings

log = logging.getLogger(__name__)

FUZZ_ENV = "NETCHECK_FUZZ_EXAMPLES"
EXAMPLES: dict[str, int] = {}


def fuzz_settings(default: int) -> settings:
    """max_examples: `default`, or $NETCHECK_FUZZ_EXAMPLES for a longer run."""
    count = int(os.environ.get(FUZZ_ENV, "0") or 0) or default
    return settings(
        max_examples=count, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def count(name: str) -> None:
    EXAMPLES[name] = EXAMPLES.get(name, 0) + 1


def log_examples() -> None:
    log.warning("hypothesis examples run: %s (total %d)", EXAMPLES, sum(EXAMPLES.values()))
