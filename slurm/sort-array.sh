#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Sorts many sessions as a job array, one array element per session:
#   sbatch --array=0-$(($(grep -cv '^\s*\(#\|$\)' sessions.txt) - 1))%8 slurm/sort-array.sh sessions.txt OUT_ROOT
# SESSIONS_FILE: one session per line, "SESSION_DIR [OUT_DIR]"; blank lines and lines starting
# with # are skipped and do not count. Element i sorts the (i+1)-th session into OUT_DIR, or
# OUT_ROOT/<session folder name> when the line names none. Each element runs slurm/sort.sh (same
# layout, environment variables and resume on requeue), so the resources below are per session.
#
# The lines below are defaults; options given to sbatch on the command line override them.
# Job name shown by squeue; change freely.
#SBATCH --job-name=spikeshard-array
# Log per element (%A = array job id, %a = element); kept across requeues (--open-mode=append).
#SBATCH --output=%x-%A_%a.out
#SBATCH --open-mode=append
# Elements 0..N-1, at most 8 at a time: set N to the number of sessions (or give --array to sbatch).
#SBATCH --array=0-0%8
# Wall time per session.
#SBATCH --time=04:00:00
# Nodes per session.
#SBATCH --nodes=1
# Tasks per node: 1 + the GPUs per node (node 0's extra task is the coordinator).
#SBATCH --ntasks-per-node=5
# GPUs per node, as many as worker tasks per node. Delete this line on a CPU-only partition.
#SBATCH --gres=gpu:4
# CPU threads per task.
#SBATCH --cpus-per-task=8
# Memory per node.
#SBATCH --mem=64G
# Pre-emption: requeue the element; it resumes from its OUT_DIR.
#SBATCH --requeue
# Partition (queue) with GPU nodes: set yours, or leave commented for the default partition.
##SBATCH --partition=gpu
# Account to charge: set yours where the site requires one.
##SBATCH --account=mylab

set -uo pipefail

log() { echo "spikeshard-slurm[${SLURM_ARRAY_JOB_ID:-local}_${SLURM_ARRAY_TASK_ID:-?} array]: $*" >&2; }
die() { # message, exit code (default 2)
  log "error: $1"
  exit "${2:-2}"
}

[ $# -eq 2 ] || die "usage: sbatch --array=0-N slurm/sort-array.sh SESSIONS_FILE OUT_ROOT (got $# argument(s))"
sessions_file=$1
out_root=$2
[ -n "${SLURM_ARRAY_TASK_ID:-}" ] || die "not an array job: submit with sbatch --array=..."
[ -f "$sessions_file" ] || die "sessions file $sessions_file: no such file" 3

# sbatch runs a copy of this script from its spool folder: find slurm/sort.sh from the path that
# was submitted (SPIKESHARD_SLURM_DIR overrides).
slurm_dir=${SPIKESHARD_SLURM_DIR:-}
if [ -z "$slurm_dir" ]; then
  submitted=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -n 1)
  case "$submitted" in
  /*) ;;
  *) submitted="${SLURM_SUBMIT_DIR:-.}/$submitted" ;;
  esac
  slurm_dir=$(dirname "$submitted")
fi
[ -f "$slurm_dir/sort.sh" ] || die "cannot find sort.sh in $slurm_dir; set SPIKESHARD_SLURM_DIR to the repository's slurm folder"

line=$(grep -v -E '^[[:space:]]*(#|$)' "$sessions_file" | sed -n "$((SLURM_ARRAY_TASK_ID + 1))p")
count=$(grep -c -v -E '^[[:space:]]*(#|$)' "$sessions_file")
[ -n "$line" ] || die "element $SLURM_ARRAY_TASK_ID: $sessions_file has only $count session(s) (elements 0..$((count - 1)))" 3
read -r session out extra <<<"$line"
[ -z "${extra:-}" ] || die "$sessions_file, session $((SLURM_ARRAY_TASK_ID + 1)): expected \"SESSION_DIR [OUT_DIR]\", got \"$line\"" 3
out=${out:-$out_root/$(basename "$session")}
log "element $SLURM_ARRAY_TASK_ID of $count: $session -> $out"
exec bash "$slurm_dir/sort.sh" "$session" "$out"
