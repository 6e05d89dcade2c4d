// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The learning step's native pieces against the TypeScript they replaced: pooling a batch into the
 * running means (poolRunningMeans / applyBatchStatistics) and the peak channel of a template, bit
 * for bit, whatever the thread count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  factorizeTemplates,
  nearestChannels,
  peakChannels,
  poolRunningMeans,
  type LearnBatchResult,
} from '../../../native/lib/index.js';
import {
  NT0,
  NT0MIN,
  applyBatchStatistics,
  peakChannelOf,
  type TemplateState,
} from '../../../coordinator/sort/learning.js';
import { rng } from '../../helpers/uniform.js';

/** The pooling as the TypeScript learning loop wrote it (the reference for the native loop). */
function poolInTypeScript(state: TemplateState, result: LearnBatchResult, pm: number): void {
  const size = NT0 * state.nChannels;
  result.active.forEach((j, k) => {
    const n = result.counts[j]!;
    const f = Math.pow(pm, n);
    const d = state.dWU[j]!;
    const sums = result.sums.subarray(k * size, (k + 1) * size);
    for (let i = 0; i < size; i++) d[i] = f * d[i]! + ((1 - f) * sums[i]!) / n;
  });
  for (let j = 0; j < result.nTemplates; j++) state.nsp[j] = 0.95 * state.nsp[j]! + 0.05 * result.counts[j]!;
}

function randomState(u: () => number, nTemplates: number, nChannels: number): TemplateState {
  return {
    nChannels,
    dWU: Array.from({ length: nTemplates }, () => Float64Array.from({ length: NT0 * nChannels }, () => 40 * u() - 20)),
    nsp: Array.from({ length: nTemplates }, () => 10 * u()),
    temporal: Array.from({ length: nTemplates }, () => null),
  };
}

function randomBatch(u: () => number, nTemplates: number, nChannels: number): LearnBatchResult {
  const active = Int32Array.from(Array.from({ length: nTemplates }, (_, j) => j).filter((j) => j === 0 || u() < 0.6));
  const counts = new Int32Array(nTemplates);
  for (const j of active) counts[j] = 1 + Math.floor(u() * 300);
  return {
    nTemplates,
    active,
    sums: Float64Array.from({ length: active.length * NT0 * nChannels }, () => 1000 * u() - 500),
    counts,
    proposals: new Float32Array(0),
    proposalChannels: new Int32Array(0),
    proposalScores: new Float32Array(0),
    spikes: 0,
  };
}

const bits = (a: Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

test('applyBatchStatistics pools natively with the bits of the TypeScript loop', () => {
  const u = rng(5);
  const nTemplates = 23;
  const nChannels = 7;
  const want = randomState(u, nTemplates, nChannels);
  const got: TemplateState = { ...want, dWU: want.dWU.map((d) => d.slice()), nsp: [...want.nsp] };
  for (let b = 0; b < 4; b++) {
    const batch = randomBatch(u, nTemplates, nChannels);
    const pm = Math.exp(-1 / (20 + 30 * u()));
    poolInTypeScript(want, batch, pm);
    applyBatchStatistics(got, batch, pm);
  }
  assert.deepEqual(got.nsp, want.nsp);
  want.dWU.forEach((d, j) => assert.deepEqual(bits(got.dWU[j]!), bits(d), `template ${j}`));
});

test('poolRunningMeans: the same bits for any thread count; bad rows are refused by name', () => {
  const u = rng(9);
  const nChannels = 5;
  const size = NT0 * nChannels;
  const base = randomState(u, 17, nChannels);
  const batch = randomBatch(u, 17, nChannels);
  const factors = Float64Array.from(batch.active, (j) => Math.pow(0.97, batch.counts[j]!));
  const runs = [1, 2, 3, 8].map((threads) => {
    const means = base.dWU.map((d) => d.slice());
    poolRunningMeans(means, batch.active, batch.sums, factors, batch.counts, threads);
    return means;
  });
  for (const means of runs.slice(1)) means.forEach((d, j) => assert.deepEqual(bits(d), bits(runs[0]![j]!)));
  // Rows off `active` are untouched; active rows moved.
  const inactive = base.dWU.findIndex((_, j) => !batch.active.includes(j));
  assert.ok(inactive >= 0);
  assert.deepEqual(bits(runs[0]![inactive]!), bits(base.dWU[inactive]!));
  assert.notDeepEqual(bits(runs[0]![batch.active[0]!]!), bits(base.dWU[batch.active[0]!]!));

  const means = base.dWU.map((d) => d.slice());
  const one = (active: Int32Array, rows = means, counts = batch.counts): void =>
    poolRunningMeans(rows, active, new Float64Array(active.length * size), new Float64Array(active.length), counts, 1);
  assert.throws(() => one(Int32Array.from([3, 2])), /poolRunningMeans: active: expected ascending distinct/);
  assert.throws(() => one(Int32Array.from([17])), /active: expected ascending distinct indices in \[0, 17\)/);
  const zero = new Int32Array(17).fill(1);
  zero[4] = 0;
  assert.throws(() => one(Int32Array.from([4]), means, zero), /counts: expected > 0/);
  const shared = new Float64Array(size * 2);
  const aliased = means.map((d, j) => (j === 1 || j === 2 ? shared.subarray(0, size) : d));
  assert.throws(() => one(Int32Array.from([1, 2]), aliased, zero.fill(1)), /rows that do not share memory/);
  const short = means.map((d, j) => (j === 5 ? d.subarray(1) : d));
  assert.throws(() => one(Int32Array.from([5]), short, zero), /means\[5\]: expected 305 elements/);
});

test('peakChannelOf picks the channel native peakChannels picks, first on ties', () => {
  const u = rng(3);
  const nChannels = 9;
  const waves = Array.from({ length: 40 }, (_, j) => {
    const d = Float64Array.from({ length: NT0 * nChannels }, () => Math.round(8 * u() - 4));
    if (j % 5 === 0) d.fill(0); // all tied: channel 0
    return d;
  });
  const all = new Float64Array(waves.length * NT0 * nChannels);
  waves.forEach((d, j) => all.set(d, j * d.length));
  const want = peakChannels({ nTemplates: waves.length, templateSamples: NT0, nChannels, values: all }, NT0MIN);
  assert.deepEqual(
    waves.map((d) => peakChannelOf(d, nChannels)),
    Array.from(want),
  );
  assert.ok(new Set(want).size > 3);
});

test('factorizeTemplates reads one array per template with the bits of one joined block', () => {
  const u = rng(21);
  const nChannels = 12;
  const nTemplates = 9;
  const xUm = Float32Array.from({ length: nChannels }, (_, c) => (c % 2) * 32);
  const yUm = Float32Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2));
  const hoods = nearestChannels(xUm, yUm, 6);
  const rows = Array.from({ length: nTemplates }, (_, j) => {
    const d = new Float64Array(NT0 * nChannels);
    for (let t = 0; t < NT0; t++) {
      for (let c = 0; c < nChannels; c++) {
        const near = Math.exp(-Math.abs(c - ((3 * j) % nChannels)) / 2);
        d[t * nChannels + c] = -10 * near * Math.exp(-((t - NT0MIN) ** 2) / 6) + 0.3 * (u() - 0.5);
      }
    }
    return d;
  });
  const values = new Float64Array(nTemplates * NT0 * nChannels);
  rows.forEach((d, j) => values.set(d, j * d.length));
  const flat = { nTemplates, templateSamples: NT0, nChannels, values };
  const peaks = peakChannels(flat, NT0MIN);
  const options = {
    troughSample: NT0MIN,
    rank: 3,
    powerIterations: 50,
    upsampleFactor: 10,
    kernelSigmaSamples: 1,
    previousTemporal: null,
    threads: 2,
  };
  const a = factorizeTemplates(flat, hoods, peaks, options);
  const b = factorizeTemplates({ nTemplates, templateSamples: NT0, nChannels, rows }, hoods, peaks, options);
  assert.deepEqual(b.temporal, a.temporal);
  assert.deepEqual(b.spatial, a.spatial);
  assert.deepEqual(b.meanAmplitude, a.meanAmplitude);
  assert.ok(a.meanAmplitude.every((m) => m > 1));
  const short = rows.map((d, j) => (j === 4 ? d.subarray(1) : d));
  assert.throws(
    () => factorizeTemplates({ nTemplates, templateSamples: NT0, nChannels, rows: short }, hoods, peaks, options),
    /factorizeTemplates: meanWaveforms\[4\]: expected 732 elements \(templateSamples × nChannels\)/,
  );
  assert.throws(
    () =>
      factorizeTemplates({ nTemplates, templateSamples: NT0, nChannels, rows: rows.slice(1) }, hoods, peaks, options),
    /meanWaveforms: expected 9 rows \(nTemplates\), got 8/,
  );
});
