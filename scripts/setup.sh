#!/usr/bin/env bash
# Install what netcheck needs on a fresh Debian machine: system tools and a project venv.
# Idempotent: a second run installs nothing new. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ip >/dev/null || need_apt+=(iproute2)
command -v nsenter >/dev/null || need_apt+=(util-linux)
command -v fping >/dev/null || need_apt+=(fping)        # the benchmark's baseline
command -v ping >/dev/null || need_apt+=(iputils-ping)   # the tests' independent witness
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.netcheck-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: pip install -e .[test]"
    .venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
    touch "$stamp"
fi
