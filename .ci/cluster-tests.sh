#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The opt-in cluster suites (test/cluster): starts a Docker engine and a one-node SLURM cluster,
# builds the base images, runs `npm run test:cluster`, and stops the daemons it started (daemons
# found running are left alone). Needs root. Prints the time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."

step_start=$SECONDS
step() {
  echo "== cluster: $1 ($((SECONDS - step_start)) s since the start of the cluster tests)"
}

started_dockerd=0
started_slurm=0
docker info >/dev/null 2>&1 || started_dockerd=1
sinfo >/dev/null 2>&1 || started_slurm=1
cleanup() {
  [ "$started_slurm" = 1 ] && .ci/teardown-slurm.sh || true
  if [ "$started_dockerd" = 1 ] && [ -f /var/run/docker.pid ]; then
    echo "== cluster: stopping dockerd"
    kill -TERM "$(cat /var/run/docker.pid)" 2>/dev/null || true
  fi
}
trap cleanup EXIT

step "Docker engine"
.ci/setup-docker.sh
step "base images (debootstrap)"
t0=$SECONDS
containers/build-base.sh
echo "base images: $((SECONDS - t0)) s"
step "SLURM"
.ci/setup-slurm.sh
step "npm run test:cluster"
t0=$SECONDS
npm run test:cluster
echo "cluster suites: $((SECONDS - t0)) s"
step "done"
