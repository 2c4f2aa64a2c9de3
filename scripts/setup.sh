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
# ssh:// Docker hosts and `doctor --host ssh://`: the client, and a server the tests run
# inside a lab namespace (tests/multihost/sshd.py).
command -v ssh >/dev/null || need_apt+=(openssh-client)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    # policy-rc.d: openssh-server's postinst must not start an sshd in the root namespace.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
# Everything from requirements.lock: exact versions, hash-checked, the build tools included;
# then netcheck itself without dependencies (nothing unpinned can slip in). The lock is made
# by scripts/lock.sh. Reinstall only when the lock or pyproject.toml changed since the last one.
stamp=.venv/.netcheck-installed
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: pip install -r requirements.lock, then -e . (no dependencies)"
    pip_quiet=(-q --disable-pip-version-check)
    .venv/bin/pip install "${pip_quiet[@]}" --require-hashes -r requirements.lock
    # The build tools come from the lock too: no isolated build env fetching newer ones.
    .venv/bin/pip install "${pip_quiet[@]}" --no-deps --no-build-isolation -e .
    .venv/bin/pip check
    touch "$stamp"
fi
