#!/bin/sh
# Start a dockerd in the background when none answers. Idempotent.
#
# Prints one last line the caller can parse:
#   "running"         a daemon already answered; nothing was started
#   "started <pid>"   this script started dockerd with that pid (stop it by that pid)
# Env: NETCHECK_CI_DIR (default /run/netcheck-ci), DOCKERD_WAIT_S (default 60).
set -eu

ci_dir=${NETCHECK_CI_DIR:-/run/netcheck-ci}
wait_s=${DOCKERD_WAIT_S:-60}
pidfile="$ci_dir/dockerd.pid"
logfile="$ci_dir/dockerd.log"

if docker info >/dev/null 2>&1; then
    echo "running"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    "$(dirname "$0")/install-docker.sh"
fi

mkdir -p "$ci_dir"
# A pid file left by an earlier daemon that still runs but does not answer yet: wait for it
# rather than starting a second daemon on the same socket.
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    pid=$(cat "$pidfile")
else
    rm -f "$pidfile"
    # setsid: the daemon must outlive this script and not get the caller's Ctrl-C.
    setsid dockerd --pidfile "$pidfile" >"$logfile" 2>&1 </dev/null &
    pid=$!
fi

deadline=$(( $(date +%s) + wait_s ))
until docker info >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "dockerd (pid $pid) exited; last log lines:" >&2
        tail -n 20 "$logfile" >&2 || true
        exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "dockerd (pid $pid) did not answer within ${wait_s}s; see $logfile" >&2
        exit 1
    fi
    sleep 0.2
done
echo "started $pid"
