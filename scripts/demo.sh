#!/usr/bin/env bash
# The main job on a fresh machine: set up, then run the quickstart scenario on the
# embedded netns runtime (no Docker needed). Extra arguments go to `netcheck run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/netcheck validate scenarios/quickstart.yaml
exec .venv/bin/netcheck run scenarios/quickstart.yaml --runtime netns \
    --junit reports/quickstart.junit.xml --json reports/quickstart.json "$@"
