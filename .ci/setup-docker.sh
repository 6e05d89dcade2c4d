#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the Docker engine (Debian's docker.io) and starts dockerd as root in the background,
# for the container tests (test/cluster). Idempotent: a daemon that already answers is kept.
# Waits until the socket answers `docker info`. Must run as root.
set -euo pipefail

log() { echo "setup-docker: $*" >&2; }

if docker info >/dev/null 2>&1; then
  log "a Docker daemon already answers; nothing to do"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and starts dockerd)"
  exit 2
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  # Lock timeout: other provisioning may hold the dpkg lock for a while.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null
fi

# A stale pid file from a killed daemon stops dockerd from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi

log_file=/var/log/spikeshard-dockerd.log
log "starting dockerd (log: $log_file)"
# setsid: the daemon outlives this script and the CI step that ran it.
setsid dockerd >"$log_file" 2>&1 </dev/null &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "dockerd is up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of $log_file:"
tail -n 30 "$log_file" >&2
exit 1
