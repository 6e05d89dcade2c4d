#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Sorts every probe of a session on a SLURM allocation:
#   sbatch slurm/sort.sh SESSION_DIR OUT_DIR
# Task 0 is the coordinator (`spikeshard sort`), every other task a worker holding one GPU
# (`spikeshard worker`); they meet through OUT_DIR/workers (registration files) and
# OUT_DIR/.secret (the per-run secret, mode 0600). With one task (--ntasks=1) the coordinator
# sorts in-process. The run folder OUT_DIR makes pre-emption harmless: the job is requeued and
# the coordinator resumes from what finished.
#
# Layout: --ntasks-per-node = 1 + GPUs per node. Local task 0 of node 0 is the coordinator;
# local task k >= 1 of every node is a worker on the node's k-th GPU. Local task 0 of the other
# nodes has no role and exits at once (SPIKESHARD_CPU_WORKERS=1 makes it a CPU worker instead).
#
# Environment (sbatch passes the submitting shell's environment):
#   SPIKESHARD_RUNTIME=native|apptainer   (default native)
#   SPIKESHARD_BIN       native command (default `spikeshard`; e.g. "node /opt/spikeshard/dist/coordinator/cli/bin.js")
#   SPIKESHARD_IMAGE     Apptainer image (.sif) for SPIKESHARD_RUNTIME=apptainer
#   SPIKESHARD_APPTAINER_ARGS  extra `apptainer exec` options (e.g. "-B /scratch")
#   SPIKESHARD_SORT_ARGS       extra `spikeshard sort` options (parameters, --probe, --fresh)
#   SPIKESHARD_WORKER_ARGS     extra `spikeshard worker` options
#   SPIKESHARD_BACKEND   worker backend: auto|cuda|cpu (default auto)
#   SPIKESHARD_CPU_WORKERS=1   run the role-less tasks as CPU workers
#
# The lines below are defaults; options given to sbatch on the command line override them.
# Job name shown by squeue; change freely.
#SBATCH --job-name=spikeshard
# Log file (%x = job name, %j = job id); kept across requeues thanks to --open-mode=append.
#SBATCH --output=%x-%j.out
#SBATCH --open-mode=append
# Wall time: about 4x the recording duration per GPU-less probe-hour is safe; with GPUs far less.
#SBATCH --time=04:00:00
# Nodes: raise to spread the workers over more GPU nodes (workers = nodes x GPUs per node).
#SBATCH --nodes=1
# Tasks per node: 1 + the GPUs per node (node 0's extra task is the coordinator).
#SBATCH --ntasks-per-node=5
# GPUs per node: the same number of GPUs as worker tasks per node (4 here). Add a type if your
# site needs one (gpu:a100:4). Delete this line on a CPU-only partition.
#SBATCH --gres=gpu:4
# CPU threads per task: each worker reads and filters its batches with them.
#SBATCH --cpus-per-task=8
# Memory per node: the coordinator holds one probe's global state (a few GB for 384 channels);
# each worker about 4 GB.
#SBATCH --mem=64G
# Pre-emption: requeue the job instead of failing it; it resumes from OUT_DIR.
#SBATCH --requeue
# Partition (queue) with GPU nodes: set yours, or leave commented for the default partition.
##SBATCH --partition=gpu
# Account to charge: set yours where the site requires one.
##SBATCH --account=mylab

set -uo pipefail

log() { echo "spikeshard-slurm[${SLURM_JOB_ID:-local} ${SPIKESHARD_TASK:-batch}]: $*" >&2; }
die() { # message, exit code (default 2)
  log "error: $1"
  exit "${2:-2}"
}

# The native or containerised `spikeshard` command line, into the array SPIKESHARD_ARGV (run
# by the caller, so that `$!` of a background run is the spikeshard process itself). Arguments:
# role (coordinator|worker) and the spikeshard arguments. Apptainer binds the session and the
# run folder at the same paths.
spikeshard_argv() {
  local role=$1
  shift
  case "$SPIKESHARD_RUNTIME" in
  native)
    read -r -a SPIKESHARD_ARGV <<<"${SPIKESHARD_BIN:-spikeshard}"
    SPIKESHARD_ARGV+=("$@")
    ;;
  apptainer)
    local -a extra nv=()
    read -r -a extra <<<"${SPIKESHARD_APPTAINER_ARGS:-}"
    # Workers see the GPUs; the coordinator needs none.
    [ "$role" = worker ] && nv=(--nv)
    SPIKESHARD_ARGV=(apptainer exec "${nv[@]}" --bind "$SPIKESHARD_SESSION" --bind "${SPIKESHARD_OUT:-$SPIKESHARD_SESSION}" "${extra[@]}"
      "$SPIKESHARD_IMAGE" spikeshard "$@")
    ;;
  esac
}

# Runs in every srun task: picks the role from the task's rank.
spikeshard_task() {
  export SPIKESHARD_TASK="task $SLURM_PROCID"
  local -a sort_args worker_args
  read -r -a sort_args <<<"${SPIKESHARD_SORT_ARGS:-}"
  read -r -a worker_args <<<"${SPIKESHARD_WORKER_ARGS:-}"
  local workers_dir="$SPIKESHARD_OUT/workers"
  local done_file="$workers_dir/.coordinator-exit"

  if [ "${SLURM_NTASKS:-1}" -le 1 ]; then
    log "coordinator (in-process) on $(hostname)"
    spikeshard_argv coordinator sort "$SPIKESHARD_SESSION" --out "$SPIKESHARD_OUT" "${sort_args[@]}"
    "${SPIKESHARD_ARGV[@]}"
    return
  fi

  if [ "$SLURM_PROCID" -eq 0 ]; then
    log "coordinator on $(hostname), $((SLURM_NTASKS - 1)) worker task(s)"
    local code
    spikeshard_argv coordinator sort "$SPIKESHARD_SESSION" --out "$SPIKESHARD_OUT" \
      --worker-dir "$workers_dir" --secret-file "$SPIKESHARD_OUT/.secret" "${sort_args[@]}"
    "${SPIKESHARD_ARGV[@]}"
    code=$?
    # Tells the workers of every node that the run is over (they share this folder).
    echo "$code" >"$done_file"
    return "$code"
  fi

  local backend=${SPIKESHARD_BACKEND:-auto} gpu_index=$((SLURM_LOCALID - 1))
  if [ "$gpu_index" -lt 0 ]; then
    if [ "${SPIKESHARD_CPU_WORKERS:-0}" != 1 ]; then
      log "no role on $(hostname) (local task 0 of node ${SLURM_NODEID}); exiting"
      return 0
    fi
    backend=cpu
    unset CUDA_VISIBLE_DEVICES
  else
    # SLURM gives each task the node's GPUs; each worker keeps one, by local rank.
    local -a gpus
    IFS=, read -r -a gpus <<<"${CUDA_VISIBLE_DEVICES:-}"
    if [ "$gpu_index" -lt "${#gpus[@]}" ]; then
      export CUDA_VISIBLE_DEVICES="${gpus[$gpu_index]}"
    elif [ "${#gpus[@]}" -gt 0 ]; then
      log "warning: local task $SLURM_LOCALID but only ${#gpus[@]} GPU(s) on $(hostname); using the CPU backend"
      backend=cpu
      unset CUDA_VISIBLE_DEVICES
    fi
  fi
  export CUDA_DEVICE_ORDER=PCI_BUS_ID
  log "worker on $(hostname), backend $backend, CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-none}"
  spikeshard_argv worker worker --listen 0.0.0.0:0 --register "$workers_dir" --data-root "$SPIKESHARD_SESSION" \
    --secret-file "$SPIKESHARD_OUT/.secret" --backend "$backend" --threads "${SLURM_CPUS_PER_TASK:-0}" \
    "${worker_args[@]}"
  "${SPIKESHARD_ARGV[@]}" &
  local worker_pid=$!
  # A worker serves until the coordinator is done; then it is stopped cleanly (SIGTERM = exit 0).
  while kill -0 "$worker_pid" 2>/dev/null; do
    if [ -e "$done_file" ]; then
      kill -TERM "$worker_pid" 2>/dev/null
      break
    fi
    sleep 2
  done
  wait "$worker_pid"
}

main() {
  [ $# -eq 2 ] || die "usage: sbatch slurm/sort.sh SESSION_DIR OUT_DIR (got $# argument(s))"
  export SPIKESHARD_RUNTIME=${SPIKESHARD_RUNTIME:-native}
  case "$SPIKESHARD_RUNTIME" in
  native) ;;
  apptainer)
    [ -n "${SPIKESHARD_IMAGE:-}" ] || die "SPIKESHARD_RUNTIME=apptainer needs SPIKESHARD_IMAGE (the .sif file)"
    [ -f "$SPIKESHARD_IMAGE" ] || die "SPIKESHARD_IMAGE=$SPIKESHARD_IMAGE: no such file"
    command -v apptainer >/dev/null 2>&1 || die "SPIKESHARD_RUNTIME=apptainer but no apptainer on PATH (module load apptainer?)"
    ;;
  *) die "SPIKESHARD_RUNTIME=$SPIKESHARD_RUNTIME: expected native or apptainer" ;;
  esac

  # Bad input stops here, before any task starts.
  [ -e "$1" ] || die "session folder $1: no such file or folder" 3
  [ -d "$1" ] || die "session folder $1: not a folder" 3
  SPIKESHARD_SESSION=$(cd "$1" && pwd -P)
  export SPIKESHARD_SESSION
  spikeshard_argv coordinator info "$SPIKESHARD_SESSION"
  if ! "${SPIKESHARD_ARGV[@]}" >/dev/null; then
    die "session folder $SPIKESHARD_SESSION: no usable probe recording (see the message above)" 3
  fi
  mkdir -p "$2" 2>/dev/null || die "output folder $2: cannot be created" 3
  [ -w "$2" ] || die "output folder $2: not writable" 3
  SPIKESHARD_OUT=$(cd "$2" && pwd -P)
  export SPIKESHARD_OUT

  local tasks=${SLURM_NTASKS:-1}
  log "session $SPIKESHARD_SESSION -> $SPIKESHARD_OUT; $tasks task(s) on ${SLURM_JOB_NODELIST:-$(hostname)}; runtime $SPIKESHARD_RUNTIME; attempt $((${SLURM_RESTART_COUNT:-0} + 1))"
  if [ "$tasks" -gt 1 ]; then
    # Registrations of an earlier attempt's workers are dead; a fresh secret for the new ones.
    mkdir -p "$SPIKESHARD_OUT/workers"
    rm -f "$SPIKESHARD_OUT/workers"/worker-*.json "$SPIKESHARD_OUT/workers/.coordinator-exit"
    (
      umask 077
      od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SPIKESHARD_OUT/.secret.tmp"
      mv "$SPIKESHARD_OUT/.secret.tmp" "$SPIKESHARD_OUT/.secret"
    )
  fi

  export -f log spikeshard_argv spikeshard_task
  # srun in the background so that the SIGTERM trap runs at once: SLURM signals every task too,
  # the coordinator saves what it has, and the requeued job resumes from the run folder.
  srun --kill-on-bad-exit=0 bash -c spikeshard_task &
  local srun_pid=$!
  trap 'log "SIGTERM (pre-emption, requeue or time limit): waiting for the tasks to stop; a requeued job resumes from $SPIKESHARD_OUT"; kill -TERM "$srun_pid" 2>/dev/null' TERM
  local code
  while true; do
    wait "$srun_pid"
    code=$?
    # wait returns early (code > 128) when the trap ran; the step is still stopping.
    kill -0 "$srun_pid" 2>/dev/null || break
  done
  if [ "$code" -eq 0 ]; then
    log "done: outputs in $SPIKESHARD_OUT"
  else
    log "the run stopped with exit code $code; submitting the same command again resumes it from $SPIKESHARD_OUT"
  fi
  return "$code"
}

main "$@"
