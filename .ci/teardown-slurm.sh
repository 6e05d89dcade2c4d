#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Stops what .ci/setup-slurm.sh started (slurmd, slurmctld, munged), after cancelling every job.
# The packages, the configuration and the munge key stay. Idempotent.
set -uo pipefail

log() { echo "teardown-slurm: $*" >&2; }
command -v scancel >/dev/null 2>&1 && scancel --full --quiet --user="$(id -un)" 2>/dev/null

stop_pid_file() { # name, pid file
  local pid
  [ -f "$2" ] || return 0
  pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$2"
}
stop_pid_file slurmd /run/slurmd.pid
stop_pid_file slurmctld /run/slurmctld.pid
stop_pid_file munged /run/munge/munged.pid
exit 0
