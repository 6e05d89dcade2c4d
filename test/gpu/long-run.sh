#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Long sorts on the GPU machine, resumable across device commands (one command may run at most
# 10 minutes; a warm machine keeps /tmp between commands, so the next command resumes each sort
# from its run folder):
#
#   OUT=<dir> bash test/gpu/long-run.sh BUDGET_S SPEC...
#   SPEC = NAME:PROBE:DRIFT_UM:SEED:SECONDS[:nodrift]     e.g. np1:np1:15:1:600  np1off:np1:15:1:600:nodrift
#
# Every SPEC gets /tmp/w/NAME/{sim,out}; its recording (CHANNELS channels, CHANNELS/4 units) is simulated when
# missing (specs that share PROBE:DRIFT:SEED:SECONDS share one recording). The sorts run side by side
# with --backend $BACKEND under `timeout BUDGET_S`, each resuming from its run folder; a finished sort is
# scored. Writes to $OUT: NAME.log (the sort's info log), NAME.compare.json, NAME.run.json,
# gpu-memory.txt (MiB used, every 5 s) and summary.txt. SORT_ARGS adds options to every sort; CPU_PROF=1
# writes V8 CPU profiles of each sort's threads to /tmp/w/NAME.prof; WRAP is a command put before each sort's
# node (e.g. WRAP='nsys profile -t cuda -o /tmp/w/prof'). Exit status 0 when every sort finished.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
[ -f .gpu/start.sh ] && source .gpu/start.sh
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT" /tmp/w
OUT="$(cd "$OUT" && pwd)"
BUDGET_S="$1"
shift
THREADS="${THREADS:-$(($(nproc) / $#))}"
BACKEND="${BACKEND:-cuda}"    # cpu for a smoke test without a GPU
CHANNELS="${CHANNELS:-384}"
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
say "== long-run $(date -u +%FT%TZ): budget ${BUDGET_S} s, ${THREADS} threads per sort, specs: $*"

(while true; do
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >>"$OUT/gpu-memory.txt" 2>/dev/null
  sleep 5
done) &
sampler=$!
trap 'kill $sampler 2>/dev/null' EXIT

simulate() { # simulate DIR PROBE DRIFT SEED SECONDS
  [ -f "$1/.complete" ] && return 0
  rm -rf "$1"
  # The recording's dirty pages are written back (sync) before any sort starts: a writeback of
  # 14 GB running under the first sort seemed to slow each of its stages by ~10 % (2026-11-25).
  node dist/cli/bin.js simulate "$1" --probe "$2" --channels "$CHANNELS" --units "$((CHANNELS / 4))" --drift "$3" --seed "$4" \
    --seconds "$5" --threads "$THREADS" >"$1.log" 2>&1 && touch "$1/.complete" && sync
}

pids=()
for spec in "$@"; do
  IFS=: read -r name probe drift seed seconds flag <<<"$spec"
  sim="/tmp/w/rec-$probe-$drift-$seed-$seconds"
  (
    # Specs sharing a recording wait for the one that makes it (a lock per recording).
    exec 9>"$sim.lock"
    flock 9
    simulate "$sim" "$probe" "$drift" "$seed" "$seconds" || { echo "simulate $sim failed" >&2; exit 3; }
    flock -u 9
    read -r -a extra <<<"${SORT_ARGS:-}"   # e.g. SORT_ARGS='--ibl-waveforms-per-cluster 0'
    [ "${flag:-}" = nodrift ] && extra+=(--no-drift-correction)
    node_args=()
    [ -n "${CPU_PROF:-}" ] && node_args=(--cpu-prof --cpu-prof-dir "/tmp/w/$name.prof")
    read -r -a wrap <<<"${WRAP:-}"
    SPIKESHARD_MEMORY_WINDOWS=1 SPIKESHARD_REPORT_RSS=1 timeout -s INT "$BUDGET_S" "${wrap[@]}" node "${node_args[@]}" dist/cli/bin.js sort "$sim" --out "/tmp/w/$name/out" \
      --backend "$BACKEND" --threads "$THREADS" "${extra[@]}" >>"/tmp/w/$name.log" 2>&1
    rc=$?
    grep -E '"msg":"[a-z -]+ done in|"msg":"learning round"|"msg":"engine: seconds|"msg":"learning: |"msg":"extraction: [0-9]|"msg":"post-processing|clusters \(|maxRssKb|"level":[56]0' \
      "/tmp/w/$name.log" >"$OUT/$name.log"
    if [ "$rc" -eq 0 ]; then
      node dist/cli/bin.js compare "$sim" "/tmp/w/$name/out/imec0/phy" --json >"$OUT/$name.compare.json"
      cp "/tmp/w/$name/out/run.json" "$OUT/$name.run.json"
    fi
    exit "$rc"
  ) &
  pids+=($!)
done

status=0
i=0
for spec in "$@"; do
  wait "${pids[$i]}"
  rc=$?
  i=$((i + 1))
  if [ "$rc" -eq 0 ]; then say "${spec%%:*}: finished"; else say "${spec%%:*}: exit $rc (124 = budget reached; run again to resume)"; status=1; fi
done
say "peak GPU memory used: $(sort -n "$OUT/gpu-memory.txt" | tail -1) MiB"
exit "$status"
