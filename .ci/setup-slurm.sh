#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A one-node SLURM cluster on this machine for the cluster tests (test/cluster): installs munge,
# slurmctld and slurmd (Debian packages), writes a slurm.conf for this host (its CPUs and memory,
# one partition `ci`), creates the munge key, starts munge, slurmctld and slurmd as root and
# waits until `sinfo` shows the node idle. Idempotent: running daemons are kept when the node
# already answers idle. Undo with .ci/teardown-slurm.sh.
#
# The node declares at least 4 CPUs (tasks share the real cores) and CI_SLURM_GPUS (default 2)
# GPUs without device files, so scripts that request GPUs (slurm/sort.sh) are scheduled as on a
# GPU cluster; the workers then fall back to the CPU backend, as no CUDA device exists.
set -euo pipefail

log() { echo "setup-slurm: $*" >&2; }
die() {
  log "$*"
  exit 2
}
node=$(hostname -s)
gpus=${CI_SLURM_GPUS:-2}
[ "$gpus" -ge 1 ] || die "CI_SLURM_GPUS=$gpus: expected >= 1"

node_state() { sinfo --noheader --nodes="$node" --format='%T' 2>/dev/null | head -n 1; }
if command -v sinfo >/dev/null 2>&1 && [ "$(node_state)" = idle ]; then
  log "node $node is already idle; nothing to do"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  log "installing munge, slurmctld, slurmd"
  # The packages' maintainer scripts must not start daemons: they are started below, configured.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

# munge: one key shared by every daemon and client of the cluster (here: one host).
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating the munge key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break || sleep 0.5; done
  munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
fi

cpus=$(nproc)
# The tests run 1 coordinator + 2 worker tasks on one node: a 2-core CI machine declares 4 CPUs
# (config_overrides keeps slurmd from draining a node whose hardware has fewer; tasks share cores).
slurm_cpus=$((cpus < 4 ? 4 : cpus))
# 90 % of the memory, so that slurmd's own measurement is never below the configured value.
memory_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
conf_dir=/etc/slurm
mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >"$conf_dir/slurm.conf" <<CONF
# Written by .ci/setup-slurm.sh: one node ($node), $slurm_cpus CPUs ($cpus real), $memory_mb MB, $gpus GPU(s) without devices.
ClusterName=spikeshard-ci
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
SlurmdParameters=config_overrides
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
GresTypes=gpu
ReturnToService=2
JobRequeue=1
# Pre-emption and requeue tests: a short grace between SIGTERM and SIGKILL.
KillWait=15
MinJobAge=600
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
NodeName=$node CPUs=$slurm_cpus RealMemory=$memory_mb Gres=gpu:$gpus State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
# slurmd accepts a GPU only as a character device: stand-ins with /dev/null's numbers, outside
# /dev so that nothing mistakes them for NVIDIA devices.
fake_gpu_dir=/var/spool/slurmd-fake-gpus
mkdir -p "$fake_gpu_dir"
for ((i = 0; i < gpus; i++)); do
  [ -c "$fake_gpu_dir/gpu$i" ] || { rm -f "$fake_gpu_dir/gpu$i"; mknod "$fake_gpu_dir/gpu$i" c 1 3; }
done
echo "Name=gpu File=$fake_gpu_dir/gpu[0-$((gpus - 1))]" >"$conf_dir/gres.conf"

start_daemon() { # name, pid file, command...
  local name=$1 pid_file=$2
  shift 2
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    log "$name is running (pid $(cat "$pid_file")); reconfiguring"
    kill -HUP "$(cat "$pid_file")"
  else
    log "starting $name"
    "$@"
  fi
}
start_daemon slurmctld /run/slurmctld.pid /usr/sbin/slurmctld
# slurmd reads gres.conf only when it starts.
[ -f /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null && kill -TERM "$(cat /run/slurmd.pid)" && sleep 1
start_daemon slurmd /run/slurmd.pid /usr/sbin/slurmd

for _ in $(seq 1 60); do
  state=$(node_state || true)
  case "$state" in
  idle) break ;;
  "") ;;
  *) scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
if [ "$(node_state)" != idle ]; then
  sinfo -N -l >&2 || true
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  die "node $node did not become idle"
fi
log "node $node is idle ($slurm_cpus CPUs declared, $cpus real; $memory_mb MB; gpu:$gpus)"
