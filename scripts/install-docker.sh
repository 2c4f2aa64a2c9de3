#!/bin/sh
# Install Docker Engine from Debian (docker.io) when no dockerd is on PATH. Idempotent.
set -eu

if command -v dockerd >/dev/null 2>&1; then
    echo "dockerd already installed: $(command -v dockerd)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps the package's init scripts from starting a daemon we did not ask for;
# start-dockerd.sh starts one under our own pid file instead.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
cleanup() {
    if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

apt-get update -q
apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates
command -v dockerd
