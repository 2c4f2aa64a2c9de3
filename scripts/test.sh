#!/usr/bin/env bash
# The test command on a fresh machine: set up, install and start Docker when missing,
# lint and type-check, then run the whole suite (unit + privileged integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f scripts/install-docker.sh ]; then
    bash scripts/install-docker.sh
fi
if [ -f scripts/install-vm.sh ]; then
    bash scripts/install-vm.sh
fi
if [ -f scripts/install-chromium.sh ]; then
    bash scripts/install-chromium.sh   # the HTML report's browser test
fi
.venv/bin/ruff check netcheck tests benchmarks
.venv/bin/mypy
mkdir -p reports
exec .venv/bin/pytest -q --junitxml=reports/pytest.junit.xml "$@"
