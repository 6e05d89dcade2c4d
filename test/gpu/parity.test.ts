// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: CPU vs CUDA parity of every CUDA kernel on the same seeded inputs. The CUDA
 * kernels repeat the CPU's floating-point operations in the same order without fused
 * multiply-adds, so the expected difference is zero; the asserted tolerances (docs/cuda.md) leave
 * room only for float rounding, and every comparison is logged with its bitwise mismatch count.
 * Without a usable CUDA device every test is skipped with the loader's reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCpuBinding } from '../../native/lib/load.js';
import type { NativeCudaBinding } from '../../native/lib/binding-cuda.js';
import { chooseBackend, cudaPreprocessShiftBatch } from '../../native/lib/backend.js';
import {
  cudaOrSkipReason,
  difference,
  floatBlock,
  gains,
  goodMask,
  krigingMatrix,
  rawBlock,
  whitening,
  type Difference,
} from './gpu-fixture.js';

const { cuda: loaded, skip } = cudaOrSkipReason();
if (skip !== false) console.log(`# ${skip}`);
const gpu = (): NativeCudaBinding => {
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.binding;
};
const cpu = loadCpuBinding();
const highpass = { order: 3, cutoffHz: 300, sampleRateHz: 30000 };

/** Tolerances, relative to the largest |CPU value| (see docs/cuda.md). */
const tolerance = {
  highpass: 1e-6,
  medianReference: 1e-6,
  whitening: 1e-6,
  kriging: 1e-6,
  fused: 1e-5,
};

function check(name: string, cpuOut: Float32Array, cudaOut: Float32Array, maxRel: number): Difference {
  const d = difference(cpuOut, cudaOut);
  console.log(
    `# ${name}: max abs ${d.maxAbs.toExponential(2)}, max rel ${d.maxRel.toExponential(2)}, ` +
      `${d.mismatches} of ${d.length} values differ in any bit`,
  );
  assert.ok(d.maxRel <= maxRel, `${name}: max relative error ${d.maxRel} above ${maxRel}`);
  return d;
}

// device-run.sh sets SPIKESHARD_REQUIRE_CUDA=1 on a machine with a GPU, where a skip would hide a
// broken addon (e.g. one built against other system libraries).
test(
  'the CUDA backend is usable (when SPIKESHARD_REQUIRE_CUDA=1)',
  { skip: process.env['SPIKESHARD_REQUIRE_CUDA'] === '1' ? false : 'SPIKESHARD_REQUIRE_CUDA is not set' },
  () => {
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.reason);
  },
);

test('describe() names the device, its memory and compute capability', { skip }, () => {
  const d = gpu().describe();
  assert.equal(d.backend, 'cuda');
  assert.ok(d.device.available);
  assert.ok(d.device.name.length > 0);
  assert.ok(d.device.totalMemoryBytes > 2 ** 30);
  assert.match(d.device.computeCapability, /^\d+\.\d+$/);
  console.log(`# device: ${JSON.stringify(d.device)}`);
});

test('chooseBackend: auto picks cuda here, cpu is honoured', { skip }, () => {
  assert.equal(chooseBackend('auto').backend, 'cuda');
  assert.equal(chooseBackend('cpu').backend, 'cpu');
});

test('high-pass (int16, gains, row stride 385) matches the CPU', { skip }, () => {
  for (const [nSamples, nChannels, stride, seed] of [
    [20000, 384, 385, 1],
    [13, 5, 5, 2], // one sample more than the filter's edge padding
    [4097, 37, 40, 3],
  ] as const) {
    const args = { nSamples, nChannels, rowStride: stride, gains: gains(nChannels, seed), ...highpass };
    const data = rawBlock(nSamples, nChannels, stride, seed);
    check(
      `highpass int16 ${nSamples}×${nChannels}`,
      cpu.highpassBlock({ data, ...args }),
      gpu().highpassBlock({ data, ...args }),
      tolerance.highpass,
    );
  }
});

test('high-pass (float input, no gains, order 5) matches the CPU', { skip }, () => {
  const nSamples = 9000;
  const nChannels = 64;
  const data = floatBlock(nSamples, nChannels, 4);
  const args = {
    data,
    nSamples,
    nChannels,
    rowStride: nChannels,
    gains: null,
    order: 5,
    cutoffHz: 250,
    sampleRateHz: 25000,
  };
  check('highpass float order 5', cpu.highpassBlock(args), gpu().highpassBlock(args), tolerance.highpass);
});

// The device high-pass runs each pass in 256-row segments side by side (32 channels per block),
// with the section count fixed at compile time for 2 sections only: every section count, segment
// boundaries (the edge padding is 3·(2·sections + 1) rows at each end, 3 fewer at an odd order: 12
// at order 3; the channel sums run in 256-sample segments) and partial channel blocks must give
// the CPU's bits.
test('high-pass segments: bitwise equal for orders 1–16, segment tails and partial channel blocks', { skip }, () => {
  const cases: [order: number, nSamples: number, nChannels: number][] = [
    [1, 13, 33],
    [2, 40, 31],
    [3, 232, 64], // 232 + 24 = 256 extended rows: exactly one segment
    [3, 233, 65], // 257: a one-row second segment
    [3, 256, 1], // the sums: exactly one segment
    [3, 257, 32], // one sample past it
    [4, 1000, 40],
    [5, 777, 70], // 3 sections: the generic kernels
    [6, 333, 70],
    [7, 500, 33],
    [9, 257, 32],
    [16, 600, 45], // 8 sections, the most
    [3, 5000, 3], // 20 segments per pass
  ];
  for (const [order, nSamples, nChannels] of cases) {
    const stride = nChannels + 3;
    const data = rawBlock(nSamples, nChannels, stride, order * 7 + nChannels);
    const args = {
      data,
      nSamples,
      nChannels,
      rowStride: stride,
      gains: gains(nChannels, order),
      order,
      cutoffHz: 300,
      sampleRateHz: 30000,
    };
    const d = check(
      `highpass segments order ${order} ${nSamples}×${nChannels}`,
      cpu.highpassBlock(args),
      gpu().highpassBlock(args),
      tolerance.highpass,
    );
    assert.equal(
      d.mismatches,
      0,
      `order ${order}, ${nSamples}×${nChannels}: ${d.mismatches} values differ in some bit`,
    );
  }
});

test('common median reference matches the CPU (odd and even good counts)', { skip }, () => {
  for (const [nChannels, badEvery] of [
    [384, 10], // 346 good: even
    [385, 1000], // all 385 good: odd
    [7, 3],
  ] as const) {
    const nSamples = 5000;
    const data = floatBlock(nSamples, nChannels, nChannels);
    // Ties: repeated values must not change the median's rank selection.
    for (let i = 0; i < data.length; i += 3) data[i] = Math.round((data[i] ?? 0) * 4) / 4;
    const good = goodMask(nChannels, badEvery);
    const args = { data, nSamples, nChannels, good };
    check(
      `median reference ${nChannels} ch`,
      cpu.commonMedianReference(args),
      gpu().commonMedianReference(args),
      tolerance.medianReference,
    );
  }
});

// The device picks the order statistics by a bitonic sort of (value, position) pairs (a rank
// kernel beyond 8192 good channels): without ties of ±0 (where the CPU's selection may pick the other
// zero) every value must be the CPU's, bit for bit; 1, 2, 3, 33 and 600 good channels cover
// the one-channel path, tiny sorts and padded lists.
test('common median reference: bitwise equal without signed-zero ties', { skip }, () => {
  for (const [nChannels, badEvery] of [
    [384, 10],
    [385, 1000],
    [1, 1000],
    [2, 1000],
    [3, 1000],
    [40, 6], // 33 good: a 64-pair sort, mostly padding
    [600, 7],
  ] as const) {
    const nSamples = 700;
    const data = floatBlock(nSamples, nChannels, nChannels + 1);
    // Exact ties of non-zero values (and their order) are still exercised.
    for (let i = 0; i < data.length; i += 5) data[i] = Math.round((data[i] ?? 0) * 2) / 2 || 0.5;
    const good = goodMask(nChannels, badEvery);
    const args = { data, nSamples, nChannels, good };
    const d = check(
      `median reference bitwise ${nChannels} ch`,
      cpu.commonMedianReference(args),
      gpu().commonMedianReference(args),
      tolerance.medianReference,
    );
    assert.equal(d.mismatches, 0, `${nChannels} channels: ${d.mismatches} values differ in some bit`);
  }
});

test('whitening matches the CPU', { skip }, () => {
  for (const [nSamples, nChannels, nNearest] of [
    [10000, 384, 32],
    [101, 20, 20],
    [7, 3, 1],
  ] as const) {
    const data = floatBlock(nSamples, nChannels, 11);
    const w = whitening(nChannels, nNearest, 12);
    const args = { data, nSamples, nChannels, ...w, scale: 200 };
    check(
      `whitening ${nSamples}×${nChannels} k=${nNearest}`,
      cpu.applyWhitening(args),
      gpu().applyWhitening(args),
      tolerance.whitening,
    );
  }
});

test('kriging shift matches the CPU, also in place', { skip }, () => {
  for (const [nSamples, nChannels] of [
    [10000, 384],
    [65, 70],
    [1, 1],
  ] as const) {
    const data = floatBlock(nSamples, nChannels, 21);
    const m = krigingMatrix(nChannels, 22);
    const cpuOut = new Float32Array(data.length);
    cpu.driftApplyKriging(data, nChannels, m, cpuOut);
    const cudaOut = new Float32Array(data.length);
    gpu().driftApplyKriging(data, nChannels, m, cudaOut);
    check(`kriging ${nSamples}×${nChannels}`, cpuOut, cudaOut, tolerance.kriging);
    const inPlace = Float32Array.from(data);
    gpu().driftApplyKriging(inPlace, nChannels, m, inPlace);
    assert.deepEqual(inPlace, cudaOut);
  }
});

test('fused batch (384 × 67 648: 65 600 + 2 × 1024 halo) matches the CPU chain and repeats bitwise', { skip }, () => {
  const nChannels = 384;
  const rowStride = 385;
  const nSamples = 65600 + 2 * 1024;
  const raw = rawBlock(nSamples, nChannels, rowStride, 31);
  const w = whitening(nChannels, 32, 32);
  const args = {
    raw,
    nSamples,
    nChannels,
    rowStride,
    gains: gains(nChannels, 33),
    good: goodMask(nChannels, 50),
    ...w,
    ...highpass,
    scale: 1,
    commonReference: true,
  };
  const m = krigingMatrix(nChannels, 34);
  const cpuWhite = cpu.preprocessBatch(args);
  const cpuShifted = new Float32Array(cpuWhite.length);
  cpu.driftApplyKriging(cpuWhite, nChannels, m, cpuShifted);
  check('fused preprocess', cpuWhite, gpu().preprocessBatch(args), tolerance.fused);
  const first = gpu().preprocessShiftBatch({ ...args, krigingMatrix: m });
  check('fused preprocess + kriging', cpuShifted, first, tolerance.fused);
  const second = gpu().preprocessShiftBatch({ ...args, krigingMatrix: m });
  assert.equal(difference(first, second).mismatches, 0, 'two GPU runs differ');
  // Without the median reference.
  const noRef = { ...args, commonReference: false };
  check(
    'fused preprocess, no median reference',
    cpu.preprocessBatch(noRef),
    gpu().preprocessBatch(noRef),
    tolerance.fused,
  );
});

test('typed wrapper cudaPreprocessShiftBatch equals the raw binding', { skip }, () => {
  const nChannels = 16;
  const nSamples = 3000;
  const raw = rawBlock(nSamples, nChannels, nChannels, 41);
  const w = whitening(nChannels, 8, 42);
  const m = krigingMatrix(nChannels, 43);
  const good = goodMask(nChannels, 5);
  const out = cudaPreprocessShiftBatch(
    gpu(),
    { data: raw, nChannels },
    {
      ...highpass,
      good,
      whitening: {
        nChannels,
        nNearest: 8,
        epsilon: 0,
        indices: w.indices,
        weights: w.weights,
        dense: new Float64Array(),
      },
    },
    m,
  );
  const direct = gpu().preprocessShiftBatch({
    raw,
    nSamples,
    nChannels,
    rowStride: nChannels,
    gains: null,
    good,
    ...w,
    ...highpass,
    scale: 1,
    commonReference: true,
    krigingMatrix: m,
  });
  assert.equal(out.nSamples, nSamples);
  assert.deepEqual(out.data, direct);
});

test('argument errors are the CPU binding’s kinds', { skip }, () => {
  const bad = { data: new Float32Array(10), nSamples: 5, nChannels: 3, good: new Uint8Array(3) };
  assert.throws(() => gpu().commonMedianReference(bad), RangeError);
  assert.throws(() => cpu.commonMedianReference(bad), RangeError);
  const noGood = { data: new Float32Array(9), nSamples: 3, nChannels: 3, good: new Uint8Array(3) };
  assert.throws(() => gpu().commonMedianReference(noGood), /no channel is marked good/);
  // The segmented high-pass's output grid bounds a device block at 65 535 · 64 − 24 samples (order 3).
  const n = 4_194_217;
  const long = { data: new Float32Array(n), nSamples: n, nChannels: 1, rowStride: 1, gains: null, ...highpass };
  assert.throws(() => gpu().highpassBlock(long), /at most 4194216 samples per block on the device, got 4194217/);
});

test('device memory stays within the context cap and can be released', { skip }, () => {
  const before = gpu().deviceMemory();
  assert.ok(before.bytesInUse <= before.maxBytes);
  gpu().releaseDeviceMemory();
  assert.equal(gpu().deviceMemory().bytesInUse, 0);
});
