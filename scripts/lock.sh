#!/usr/bin/env bash
# Refresh requirements.lock from pyproject.toml: exact versions, with hashes, of every runtime,
# test and vm dependency (pip-tools in a throwaway venv, PyPI only: the machine's pip config
# may add local wheel folders whose hashes another machine would not have).
#
#   bash scripts/lock.sh                          # add what pyproject.toml gained, keep the rest
#   bash scripts/lock.sh --upgrade                # refresh everything to the newest versions
#   bash scripts/lock.sh --upgrade-package rich   # refresh one package
#
# Then run the tests (bash scripts/test.sh) and commit requirements.lock with the change.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "pip-tools==7.6.2"
"$tmp/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --extra test --extra vm --all-build-deps \
    --output-file requirements.lock pyproject.toml "$@"
