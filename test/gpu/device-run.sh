#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One command on the GPU machine (≤ 13 minutes at worst, each step under its own timeout): CPU-vs-CUDA parity (preprocessing, kriging,
# matching pursuit and drift detection) and the CUDA micro-benchmark at 384 channels × 65 600 samples (+ 2 × 1024 halo),
# matching with 250 templates. Needs no compiler and no node_modules; it
# expects the artefacts built on a machine with the CUDA toolkit (docs/cuda.md, "GPU machine"):
#   native/build/Release/spikeshard_cuda.node, native/build/Release/spikeshard_cpu.node, dist/,
#   native/build/cuda/spikeshard-cuda-check, native/build/cuda/spikeshard-drift-check,
#   native/build/cuda/spikeshard-destripe-check
# Results go to $OUT (default ./gpu-out): standalone.json, parity.txt, cuda-bench.json, summary.txt.
# Exit status 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p "${OUT:-gpu-out}"
OUT="$(cd "${OUT:-gpu-out}" && pwd)"
status=0
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
: >"$OUT/summary.txt"

say "== spikeshard CUDA device run $(date -u +%FT%TZ) on $(hostname)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1 | tee "$OUT/nvidia-smi.csv"
fi

# 1. Standalone C++ parity + benchmark (no Node.js needed). If the carried binary cannot run here
# (exit other than 0 pass / 1 parity failure / 2 no device, e.g. 127 for missing system libraries)
# and this machine has nvcc, it is rebuilt from the sources into $OUT/build and run again.
check=native/build/cuda/spikeshard-cuda-check
run_check() {
  timeout 200 "$1" --repeats 20 --templates 250 >"$OUT/standalone.json" 2>"$OUT/standalone.stderr"
}
if [ -x "$check" ]; then
  say "== standalone parity + benchmark ($check)"
  run_check "$check"
  rc=$?
else
  say "standalone: $check missing"
  rc=127
fi
if [ "$rc" -gt 2 ] && command -v nvcc >/dev/null; then
  cat "$OUT/standalone.stderr" 2>/dev/null
  say "standalone: exit $rc; rebuilding with $(command -v nvcc) into $OUT/build"
  cuda_home="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
  [ -f "$cuda_home/lib64/libcudart_static.a" ] || cuda_home=/usr/local/cuda
  if timeout 240 make -s -j 8 -C native -f cuda.mk CUDA_HOME="$cuda_home" OUT="$OUT/build" check-binary \
    >"$OUT/build.log" 2>&1; then
    check="$OUT/build/spikeshard-cuda-check"
    run_check "$check"
    rc=$?
  else
    tail -20 "$OUT/build.log"
    say "standalone: rebuild failed (see build.log)"
  fi
fi
cat "$OUT/standalone.json" 2>/dev/null
say "standalone: exit $rc (0 pass, 1 parity failure, 2 no device)"
[ "$rc" -eq 0 ] || status=1

# 1b. Standalone drift-detection parity (no Node.js; built by the same check-binary target).
drift_check="$(dirname "$check")/spikeshard-drift-check"
[ -x "$drift_check" ] || drift_check=native/build/cuda/spikeshard-drift-check
if [ -x "$drift_check" ]; then
  say "== standalone drift detection parity ($drift_check)"
  timeout 120 "$drift_check" --repeats 10 >"$OUT/drift-standalone.json" 2>"$OUT/drift-standalone.stderr"
  rc=$?
  cat "$OUT/drift-standalone.json" "$OUT/drift-standalone.stderr" 2>/dev/null
  say "drift standalone: exit $rc (0 pass, 1 parity failure, 2 no device)"
  [ "$rc" -eq 0 ] || status=1
else
  say "drift standalone: $drift_check missing"
  status=1
fi

# 1c. Standalone parity of IBL's waveform path (destripe + cut; built by the same check-binary target).
destripe_check="$(dirname "$check")/spikeshard-destripe-check"
[ -x "$destripe_check" ] || destripe_check=native/build/cuda/spikeshard-destripe-check
if [ -x "$destripe_check" ]; then
  say "== standalone IBL waveform path parity ($destripe_check)"
  timeout 120 "$destripe_check" --repeats 10 >"$OUT/destripe-standalone.json" 2>"$OUT/destripe-standalone.stderr"
  rc=$?
  cat "$OUT/destripe-standalone.json" "$OUT/destripe-standalone.stderr" 2>/dev/null
  say "destripe standalone: exit $rc (0 pass, 1 parity failure, 2 no device)"
  [ "$rc" -eq 0 ] || status=1
else
  say "destripe standalone: $destripe_check missing"
  status=1
fi

# 2. Node parity suite and JS-level benchmark.
if ! command -v node >/dev/null; then
  say "node: not found on PATH, parity suite and JS benchmark skipped"
elif [ ! -f native/build/Release/spikeshard_cuda.node ] || [ ! -d dist/test/gpu ]; then
  say "node: native/build/Release/spikeshard_cuda.node or dist/test/gpu missing (carry them), skipped"
  status=1
else
  say "== parity suite (node $(node --version)): node --test dist/test/gpu/"
  require=0
  command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && require=1
  SPIKESHARD_REQUIRE_CUDA=$require timeout 300 node --enable-source-maps --test --test-reporter=spec dist/test/gpu/ >"$OUT/parity.txt" 2>&1
  rc=$?
  cat "$OUT/parity.txt"
  grep -E '^\s*# ?(highpass|median|whitening|kriging|fused|device|match|drift|destripe)' "$OUT/parity.txt" >>"$OUT/summary.txt" || true
  say "parity suite: exit $rc"
  [ "$rc" -eq 0 ] || status=1
  say "== micro-benchmark (node dist/test/bench/cuda-bench.js)"
  timeout 150 node --enable-source-maps dist/test/bench/cuda-bench.js --repeats 20 --json "$OUT/cuda-bench.json" \
    2>&1 | tee -a "$OUT/summary.txt"
  rc=${PIPESTATUS[0]}
  say "benchmark: exit $rc"
  [ "$rc" -eq 0 ] || status=1
fi

say "== done: status $status; files in $OUT"
exit $status
