// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyKriging,
  detectDriftSpikes,
  driftHistogram,
  dshiftRow,
  findIsolatedSnippets,
  krigingMatrix,
  krigingMatrixAsync,
  learnPrototypes,
  loadCpuBinding,
  registerDrift,
} from '../../../native/lib/index.js';
import type { DriftProbe } from '../../../native/lib/index.js';
import { blockKriging, blockKrigingAsync } from '../../../native/lib/engine/batch.js';

/** Neuropixels 1.0 layout: two sites per 20 µm row, columns {43, 11} / {59, 27} µm. */
function np1(nChannels: number): DriftProbe {
  const xUm = new Float64Array(nChannels);
  const yUm = new Float64Array(nChannels);
  for (let c = 0; c < nChannels; c++) {
    const row = Math.floor(c / 2);
    xUm[c] = row % 2 === 0 ? (c % 2 === 0 ? 43 : 11) : c % 2 === 0 ? 59 : 27;
    yUm[c] = 20 * (row + 1);
  }
  return { xUm, yUm };
}

/** Deterministic standard normal numbers (mulberry32 + Box–Muller). */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

const nt0 = 61;
/** A unit-norm waveform with its trough at index 19. */
const waveform = (() => {
  const w = new Float64Array(nt0);
  for (let k = 0; k < nt0; k++) {
    const t = k - 19;
    w[k] = -Math.exp(-(t * t) / 4) + 0.35 * Math.exp(-((t - 8) * (t - 8)) / 30);
  }
  const norm = Math.hypot(...w);
  return w.map((v) => v / norm);
})();

interface Planted {
  trough: number;
  xUm: number;
  yUm: number;
}

function syntheticBlock(probe: DriftProbe, nSamples: number, spikes: Planted[], amplitude: number): Float32Array {
  const nc = probe.xUm.length;
  const next = gaussian(17);
  const data = new Float32Array(nSamples * nc);
  for (let i = 0; i < data.length; i++) data[i] = next();
  for (const s of spikes) {
    for (let c = 0; c < nc; c++) {
      const d2 = (probe.xUm[c]! - s.xUm) ** 2 + (probe.yUm[c]! - s.yUm) ** 2;
      const a = amplitude * Math.exp(-d2 / (2 * 20 * 20));
      for (let k = 0; k < nt0; k++) data[(s.trough - 19 + k) * nc + c]! += a * waveform[k]!;
    }
  }
  return data;
}

const probe = np1(64);
const nChannels = 64;
const nSamples = 5000;
const planted: Planted[] = Array.from({ length: 20 }, (_, i) => ({
  trough: 150 + 230 * i,
  xUm: 11 + 2.4 * i,
  yUm: 120 + 21.7 * i,
}));
const block = syntheticBlock(probe, nSamples, planted, 24);

test('isolated snippets put the trough of every planted spike at index 19', () => {
  const s = findIsolatedSnippets(block, nChannels);
  assert.equal(s.samples.length, planted.length);
  for (let i = 0; i < planted.length; i++) {
    assert.equal(s.samples[i], planted[i]!.trough);
    assert.equal(s.snippets[i * nt0 + 19], s.values[i]);
  }
  const own = findIsolatedSnippets(block, nChannels, { ownBeginSample: 1000, ownEndSample: 2000 });
  assert.deepEqual(
    Array.from(own.samples),
    planted.map((p) => p.trough).filter((t) => t >= 1000 && t < 2000),
  );
});

test('prototypes from the snippets match the planted waveform; wPca is orthonormal', () => {
  const { snippets } = findIsolatedSnippets(block, nChannels);
  const p = learnPrototypes(snippets, { nPrototypes: 2 });
  assert.equal(p.wTemp.length, nt0 * 2);
  let best = 0;
  for (let r = 0; r < 2; r++) {
    let dot = 0;
    for (let k = 0; k < nt0; k++) dot += waveform[k]! * p.wTemp[k * 2 + r]!;
    best = Math.max(best, dot);
  }
  assert.ok(best > 0.95, `best prototype correlation ${best}`);
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      let dot = 0;
      for (let k = 0; k < nt0; k++) dot += p.wPca[k * 2 + a]! * p.wPca[k * 2 + b]!;
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-5);
    }
  }
  assert.ok(p.wPca[19 * 2]! < 0);
});

const wTemp = Float32Array.from(waveform);

test('the detector finds planted spikes at their sample and depth, and partitions by own range', () => {
  const d = detectDriftSpikes(block, nChannels, probe, wTemp);
  assert.equal(d.found, planted.length);
  for (let i = 0; i < planted.length; i++) {
    assert.equal(d.samples[i], planted[i]!.trough);
    assert.ok(Math.abs(d.depthsUm[i]! - planted[i]!.yUm) < 5, `depth ${d.depthsUm[i]} vs ${planted[i]!.yUm}`);
    assert.ok(d.amplitudes[i]! > 8);
  }
  const first = detectDriftSpikes(block, nChannels, probe, wTemp, { ownEndSample: 2500 });
  const second = detectDriftSpikes(block, nChannels, probe, wTemp, { ownBeginSample: 2500 });
  assert.deepEqual([...first.samples, ...second.samples], Array.from(d.samples));
  const capped = detectDriftSpikes(block, nChannels, probe, wTemp, { capacity: 3 });
  assert.equal(capped.found, planted.length);
  assert.equal(capped.samples.length, 3);
});

test('results are identical with 1 and 2 threads', () => {
  const binding = loadCpuBinding();
  const runs = [1, 2].map((threads) => {
    binding.setThreads(threads);
    const d = detectDriftSpikes(block, nChannels, probe, wTemp);
    const m = krigingMatrix(probe, new Float64Array([7, -3]), new Float64Array([200, 1000]));
    return { d, shifted: applyKriging(block, nChannels, m.matrix) };
  });
  binding.setThreads(0);
  assert.deepEqual(runs[0]!.d, runs[1]!.d);
  assert.deepEqual(runs[0]!.shifted, runs[1]!.shifted);
});

test('histogram bins: 5 µm depth bins from min(y) − 1 and log-amplitude bins', () => {
  const yUm = new Float64Array([20, 40, 60, 80, 100]);
  const h = driftHistogram(
    { depthsUm: new Float32Array([20, 24, 24.5, 100, 300]), amplitudes: new Float32Array([8, 9.07, 9.09, 99, 20]) },
    { yUm },
  );
  assert.equal(h.depthBins, 17);
  assert.equal(h.ampBins, 20);
  assert.equal(h.originUm, 19);
  assert.equal(h.counted, 4);
  assert.equal(h.histogram[0 * 20 + 0], Math.fround(Math.log2(3))); // 20 µm and 24 µm, amplitudes 8 and 9.07
  assert.equal(h.histogram[1 * 20 + 1], 1); // 24.5 µm, amplitude 9.09
  assert.equal(h.histogram[16 * 20 + 19], 1);
});

test('registration recovers a planted rigid shift exactly in bins', () => {
  const full = np1(384);
  const nBatches = 12;
  const shifts = [0, 3, -2, 5, 1, -4, 2, 0, -1, 4, -3, 2];
  const next = gaussian(5);
  const units = Array.from({ length: 300 }, (_, i) => ({
    y: 60 + (3700 * i) / 300 + 5 * next(),
    a: 10 + (40 * ((i * 37) % 100)) / 100,
  }));
  const histograms: Float32Array[] = [];
  for (let k = 0; k < nBatches; k++) {
    const depths: number[] = [];
    const amps: number[] = [];
    for (const u of units) {
      for (let j = 0; j < 10; j++) {
        depths.push(u.y + 5 * shifts[k]! + 1.5 * next());
        amps.push(u.a * (1 + 0.05 * next()));
      }
    }
    histograms.push(
      driftHistogram({ depthsUm: Float32Array.from(depths), amplitudes: Float32Array.from(amps) }, full).histogram,
    );
  }
  const all = new Float32Array(histograms.reduce((n, h) => n + h.length, 0));
  histograms.forEach((h, k) => all.set(h, k * h.length));
  const r = registerDrift(all, nBatches, full);
  assert.equal(r.targetBatch, 5);
  assert.equal(r.nBlocks, 9);
  const t = shifts[r.targetBatch]!;
  for (let k = 0; k < nBatches; k++) {
    assert.equal(r.rigidShiftBins[k], t - shifts[k]!);
    for (const v of dshiftRow(r, k)) assert.ok(Math.abs(v - 5 * (t - shifts[k]!)) <= 1, `batch ${k}: ${v}`);
  }
});

test('kriging: zero shift is close to identity, applyKriging works in place', () => {
  const zero = krigingMatrix(probe, new Float64Array([0]), new Float64Array([300]));
  assert.equal(zero.matrix.length, nChannels * nChannels);
  const smooth = new Float32Array(3 * nChannels);
  for (let t = 0; t < 3; t++) {
    for (let c = 0; c < nChannels; c++) smooth[t * nChannels + c] = Math.sin((2 * Math.PI * probe.yUm[c]!) / 400 + t);
  }
  const out = applyKriging(smooth, nChannels, zero.matrix);
  for (let c = 0; c < nChannels; c++) {
    if (probe.yUm[c]! < 100 || probe.yUm[c]! > 560) continue;
    assert.ok(Math.abs(out[c]! - smooth[c]!) < 0.01);
  }
  const shifted = krigingMatrix(probe, new Float64Array([-20, 10]), new Float64Array([100, 600]));
  assert.ok(Math.abs(shifted.channelShiftUm[0]! - (-20 + (30 * (20 - 100)) / 500)) < 1e-9); // two knots: a line
  const copy = smooth.slice();
  const separate = applyKriging(smooth, nChannels, shifted.matrix);
  assert.equal(applyKriging(copy, nChannels, shifted.matrix, copy), copy);
  assert.deepEqual(copy, separate);
});

test('bindings reject wrong types and shapes, naming the argument', () => {
  const binding = loadCpuBinding() as unknown as Record<string, (...args: unknown[]) => unknown>;
  assert.throws(() => detectDriftSpikes([1, 2] as unknown as Float32Array, 2, probe, wTemp), {
    name: 'TypeError',
    message: /driftDetectSpikes: data: expected a Float32Array, got an Array/,
  });
  assert.throws(() => detectDriftSpikes(new Float32Array(65), nChannels, probe, wTemp), {
    name: 'RangeError',
    message: /data: expected a length that is a multiple of nChannels = 64, got 65/,
  });
  assert.throws(() => detectDriftSpikes(block, nChannels, { xUm: probe.xUm, yUm: new Float64Array(3) }, wTemp), {
    name: 'RangeError',
    message: /yUm: expected length 64/,
  });
  assert.throws(() => detectDriftSpikes(block, nChannels, probe, wTemp, { capacity: 1.5 }), {
    name: 'RangeError',
    message: /params.capacity: expected an integer/,
  });
  assert.throws(() => binding['driftHistogram']!(new Float32Array(1), new Float32Array(1), probe.yUm, { binUm: 5 }), {
    name: 'TypeError',
    message: /params.ampBins: expected a number, got undefined/,
  });
  assert.throws(() => learnPrototypes(new Float32Array(61 * 2), { nPrototypes: 3 }), {
    name: 'RangeError',
    message: /snippets: expected at least params.nPrototypes = 3 snippets, got 2/,
  });
  assert.throws(() => registerDrift(new Float32Array(10), 2, probe), { name: 'RangeError', message: /histograms/ });
  assert.throws(() => applyKriging(block, nChannels, new Float32Array(5)), { name: 'RangeError', message: /matrix/ });
  assert.throws(() => applyKriging(block, nChannels, zeroMatrix(), block.subarray(nChannels, block.length)), {
    name: 'RangeError',
    message: /out: expected length/,
  });
  const overlapping = new Float32Array(block.length + nChannels);
  assert.throws(
    () => applyKriging(overlapping.subarray(0, block.length), nChannels, zeroMatrix(), overlapping.subarray(nChannels)),
    { name: 'RangeError', message: /partially overlapping/ },
  );
});

function zeroMatrix(): Float32Array {
  return new Float32Array(nChannels * nChannels);
}

test('kriging off the JavaScript thread: the same matrices, and the same device form of a block', async () => {
  const row = new Float64Array([-20, 10]);
  const yBlock = new Float64Array([100, 600]);
  const sync = krigingMatrix(probe, row, yBlock);
  const later = await krigingMatrixAsync(probe, row, yBlock);
  assert.deepEqual(new Uint32Array(later.matrix.buffer), new Uint32Array(sync.matrix.buffer));
  assert.deepEqual(later.channelShiftUm, sync.channelShiftUm);
  await assert.rejects(krigingMatrixAsync(probe, new Float64Array([1]), yBlock), {
    name: 'RangeError',
    message: /driftKrigingMatrixAsync: yBlockUm/,
  });

  // A block spanning three owners (halo of batch 0, batch 1, halo of batch 2), the last unshifted.
  const setup = {
    nChannels,
    sampleRateHz: 30_000,
    xUm: probe.xUm,
    yUm: probe.yUm,
    uvPerCount: new Float64Array(nChannels),
    used: new Uint8Array(nChannels).fill(1),
  };
  const drift = { nBatches: 3, nBlocks: 2, dshiftUm: new Float64Array([-20, 10, 5, 7, 0, 0]), yBlockUm: yBlock };
  const shift = {
    segments: [
      { batch: 0, start: 0, end: 100 },
      { batch: 1, start: 100, end: 300 },
      { batch: 2, start: 300, end: 400 },
    ],
    drift,
    params: { krigingSigmaUm: 20 },
  };
  const span = { firstSample: 60, nSamples: 300 };
  const pieces = blockKriging(span, setup, shift);
  const asyncPieces = await blockKrigingAsync(span, setup, shift);
  assert.ok(pieces !== undefined && !(pieces instanceof Float32Array), 'several stretches');
  assert.ok(asyncPieces !== undefined && !(asyncPieces instanceof Float32Array), 'several stretches');
  assert.deepEqual(
    asyncPieces.map((p) => [p.from, p.to]),
    [
      [0, 40],
      [40, 240],
    ],
  );
  asyncPieces.forEach((p, i) => assert.deepEqual(p.matrix, pieces[i]!.matrix));
  // One owner over the whole block: a single matrix, in both forms.
  const inside = { firstSample: 120, nSamples: 150 };
  const single = await blockKrigingAsync(inside, setup, shift);
  assert.ok(single instanceof Float32Array);
  assert.deepEqual(single, blockKriging(inside, setup, shift));
  assert.equal(await blockKrigingAsync(inside, setup, null), undefined);
});
