#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A compressed recording against its .bin on the GPU machine (issue 7): simulates SECONDS of NP1
# (384 channels), compresses it (spikeshard compress --verify), measures both files' batch-read
# speed (bench:cbin-read) and sorts both with --backend $BACKEND; the two sorts' phy spike
# files must be byte-identical.
#
#   OUT=<dir> bash test/gpu/cbin-run.sh [SECONDS]
#
# Writes $OUT/summary.txt and the sorts' logs and run.json. Exit status 0 when the outputs agree.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
[ -f .gpu/start.sh ] && source .gpu/start.sh
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SECONDS_REC="${1:-60}"
BACKEND="${BACKEND:-cuda}"
THREADS="${THREADS:-$(nproc)}"
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
rec="/tmp/w/cbin-$SECONDS_REC"
bin="$rec/sim_g0_t0.imec0.ap.bin"
if [ ! -f "$rec/.complete" ]; then
  rm -rf "$rec"
  node dist/cli/bin.js simulate "$rec" --probe np1 --channels 384 --units 96 --drift 15 --seed 1 \
    --seconds "$SECONDS_REC" --threads "$THREADS" >"$OUT/simulate.log" 2>&1 && touch "$rec/.complete"
fi
cbindir="$rec-cbin"
if [ ! -f "$cbindir/.complete" ]; then
  rm -rf "$cbindir" && mkdir -p "$cbindir"
  ln -s "$bin" "$cbindir/sim_g0_t0.imec0.ap.bin"
  cp "$rec/sim_g0_t0.imec0.ap.meta" "$cbindir/"
  start=$(date +%s.%N)
  node dist/cli/bin.js compress "$cbindir/sim_g0_t0.imec0.ap.bin" --threads "$THREADS" --verify | tee -a "$OUT/summary.txt"
  say "compress --threads $THREADS --verify: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
  rm "$cbindir/sim_g0_t0.imec0.ap.bin"
  touch "$cbindir/.complete"
fi
sync # no writeback of the new files under the measurements
say "== batch reads ($(nproc) cores)"
node dist/test/bench/cbin-read-bench.js "$bin" --passes 2 --threads "$THREADS" 2>&1 | tee -a "$OUT/summary.txt"
node dist/test/bench/cbin-read-bench.js "$cbindir/sim_g0_t0.imec0.ap.cbin" --passes 2 --threads "$THREADS" 2>&1 |
  tee -a "$OUT/summary.txt"
say "sha1 of the .cbin: $(sha1sum "$cbindir/sim_g0_t0.imec0.ap.cbin" | cut -d' ' -f1)"
status=0
for name in bin cbin; do
  src="$rec"
  [ "$name" = cbin ] && src="$cbindir"
  rm -rf "/tmp/w/sort-$name"
  start=$(date +%s.%N)
  SPIKESHARD_MEMORY_WINDOWS=1 SPIKESHARD_REPORT_RSS=1 node dist/cli/bin.js sort "$src" --out "/tmp/w/sort-$name" --backend "$BACKEND" --threads "$THREADS" \
    >"$OUT/sort-$name.log" 2>&1 || { say "sort $name failed"; status=1; }
  say "sort $name: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
  cp "/tmp/w/sort-$name/run.json" "$OUT/sort-$name.run.json" 2>/dev/null
done
for f in spike_times.npy spike_clusters.npy amplitudes.npy pc_features.npy; do
  if cmp -s "/tmp/w/sort-bin/imec0/phy/$f" "/tmp/w/sort-cbin/imec0/phy/$f"; then say "$f: identical"; else say "$f: DIFFERS"; status=1; fi
done
exit "$status"
