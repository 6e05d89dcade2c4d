// SPDX-License-Identifier: GPL-3.0-or-later
/** IBL destriping through the TS wrapper: planted stripes, bad channels, ADC delays and saturation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adcFullScaleCounts,
  adcSampleShift,
  agcWindowSamples,
  commonMedianReference,
  destripeBatch,
  loadCpuBinding,
  type DestripeOptions,
} from '../../../native/lib/index.js';

const FS = 30_000;

/** Two columns, 20 µm rows, like NP1.0 (sites 32 µm apart across). */
function probe(nChannels: number): { xUm: Float64Array; yUm: Float64Array } {
  const xUm = Float64Array.from({ length: nChannels }, (_, c) => (c % 2) * 32);
  const yUm = Float64Array.from({ length: nChannels }, (_, c) => Math.floor(c / 2) * 20);
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
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-300)) * Math.cos(2 * Math.PI * uniform());
}

function options(nChannels: number, extra: Partial<DestripeOptions> = {}): DestripeOptions {
  return {
    sampleRateHz: FS,
    cutoffHz: 300,
    order: 3,
    labels: new Int32Array(nChannels),
    ...probe(nChannels),
    ...extra,
  };
}

function rms(values: number[]): number {
  return Math.sqrt(values.reduce((a, v) => a + v * v, 0) / values.length);
}

test('NP1.0 ADC shifts and full scale; AGC window of fs/10 made odd', () => {
  const s = adcSampleShift('np1', 30);
  assert.deepEqual(Array.from(s.subarray(0, 5)), [0, 0, 1 / 13, 1 / 13, 2 / 13]);
  assert.equal(s[23], 11 / 13);
  assert.equal(s[24], 0);
  assert.equal(adcSampleShift('np2', 40)[31], 15 / 16);
  assert.deepEqual(adcSampleShift('custom', 3), new Float64Array(3));
  assert.equal(adcFullScaleCounts('np1'), 512);
  assert.equal(agcWindowSamples(30_000), 3001);
});

test('destriping removes a common stripe planted across the channels of each shank', () => {
  const nC = 64;
  const nS = 6000;
  const shank = Int32Array.from({ length: nC }, (_, c) => (c < 32 ? 0 : 1));
  const noise = gaussian(3);
  const raw = new Int16Array(nS * nC);
  const stripe = (t: number, s: number): number =>
    s === 0 ? 200 * Math.sin((2 * Math.PI * 1000 * t) / FS) : 150 * Math.sign(Math.sin((2 * Math.PI * 700 * t) / FS));
  for (let t = 0; t < nS; t++)
    for (let c = 0; c < nC; c++) raw[t * nC + c] = Math.round(20 * noise() + stripe(t, shank[c]!));
  const without = destripeBatch({ data: raw, nChannels: nC }, options(nC, { kfilter: false, mute: false }));
  const destriped = destripeBatch({ data: raw, nChannels: nC }, options(nC, { shank, mute: false }));
  // The mean over a shank's channels is the stripe (plus noise/√32): compare it with and without the k-filter.
  const shankMean = (data: Float32Array, s: number): number[] => {
    const out: number[] = [];
    for (let t = 1000; t < nS - 1000; t++) {
      let m = 0;
      for (let c = s * 32; c < s * 32 + 32; c++) m += data[t * nC + c]! / 32;
      out.push(m);
    }
    return out;
  };
  for (const s of [0, 1]) {
    const before = rms(shankMean(without.data, s));
    const after = rms(shankMean(destriped.data, s));
    assert.ok(before > 80, `shank ${s}: stripe rms ${before} before`);
    // ≈ 5 % remains: the AGC divides the stripe by slightly different gains on each channel.
    assert.ok(after < 0.1 * before, `shank ${s}: stripe rms ${after} after, ${before} before`);
  }
});

test('a bad channel is replaced by the interpolation of its good neighbours (smooth field)', () => {
  const nC = 40;
  const nS = 3000;
  const { yUm } = probe(nC);
  const raw = new Int16Array(nS * nC);
  // A field smooth along the probe, with a 1.5 kHz time course.
  const field = (t: number, c: number): number => 400 * Math.sin((2 * Math.PI * yUm[c]!) / 600) * Math.sin(t / 3.2);
  for (let t = 0; t < nS; t++) for (let c = 0; c < nC; c++) raw[t * nC + c] = Math.round(field(t, c));
  for (let t = 0; t < nS; t++) raw[t * nC + 21] = (t * 7919) % 1000; // garbage on channel 21
  const labels = new Int32Array(nC);
  labels[21] = 2;
  const truth = destripeBatch({ data: raw, nChannels: nC }, options(nC, { kfilter: false, mute: false }));
  for (let t = 0; t < nS; t++) raw[t * nC + 21] = Math.round(field(t, 21));
  const clean = destripeBatch({ data: raw, nChannels: nC }, options(nC, { kfilter: false, mute: false }));
  for (let t = 0; t < nS; t++) raw[t * nC + 21] = (t * 7919) % 1000;
  const fixed = destripeBatch({ data: raw, nChannels: nC }, options(nC, { labels, kfilter: false, mute: false }));
  const err: number[] = [];
  const signal: number[] = [];
  const garbage: number[] = [];
  for (let t = 500; t < nS - 500; t++) {
    err.push(fixed.data[t * nC + 21]! - clean.data[t * nC + 21]!);
    garbage.push(truth.data[t * nC + 21]! - clean.data[t * nC + 21]!);
    signal.push(clean.data[t * nC + 21]!);
  }
  assert.ok(rms(err) < 0.05 * rms(signal), `interpolation error rms ${rms(err)}, signal ${rms(signal)}`);
  assert.ok(rms(garbage) > rms(signal), 'the planted garbage was large');
});

test('the ADC shift correction undoes a planted fractional sampling delay', () => {
  const nC = 24;
  const nS = 4000;
  const shift = adcSampleShift('np1', nC);
  // Channel c samples the same 2 kHz + 5 kHz signal shift[c] of a sample late, as an NP1.0 ADC does.
  const signal = (t: number): number =>
    3000 * Math.sin((2 * Math.PI * 2000 * t) / FS) + 2000 * Math.cos((2 * Math.PI * 5000 * t) / FS);
  const raw = new Int16Array(nS * nC);
  for (let t = 0; t < nS; t++) for (let c = 0; c < nC; c++) raw[t * nC + c] = Math.round(signal(t + shift[c]!));
  const off = destripeBatch({ data: raw, nChannels: nC }, options(nC, { kfilter: false, mute: false }));
  const on = destripeBatch(
    { data: raw, nChannels: nC },
    options(nC, { kfilter: false, mute: false, sampleShift: shift }),
  );
  const mismatch = (data: Float32Array): number => {
    const d: number[] = [];
    for (let t = 500; t < nS - 500; t++) d.push(data[t * nC + 23]! - data[t * nC]!);
    return rms(d);
  };
  assert.ok(mismatch(off.data) > 1000, `uncorrected channel 23 vs 0: ${mismatch(off.data)}`);
  assert.ok(mismatch(on.data) < 2, `corrected channel 23 vs 0: ${mismatch(on.data)}`);
});

test('saturation is muted: planted rail samples become zero, the rest is kept', () => {
  const nC = 20;
  const nS = 3000;
  const noise = gaussian(9);
  const raw = new Int16Array(nS * nC);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.round(30 * noise());
  for (let t = 1500; t < 1520; t++) for (let c = 0; c < 8; c++) raw[t * nC + c] = 511;
  const muted = destripeBatch(
    { data: raw, nChannels: nC },
    options(nC, { kfilter: false, saturationMaxCount: 512, saturationStepUv: 1e9 }),
  );
  const kept = destripeBatch({ data: raw, nChannels: nC }, options(nC, { kfilter: false, mute: false }));
  assert.equal(muted.nSaturated, 20);
  for (let t = 1500; t < 1520; t++) for (let c = 0; c < nC; c++) assert.equal(Math.abs(muted.data[t * nC + c]!), 0);
  for (const t of [100, 1400, 1530, 2900]) {
    for (let c = 0; c < nC; c++) assert.equal(muted.data[t * nC + c], kept.data[t * nC + c]);
  }
});

test('destriping is bitwise independent of the thread count', () => {
  const nC = 48;
  const nS = 5000;
  const noise = gaussian(5);
  const raw = Int16Array.from({ length: nS * nC }, () => Math.round(40 * noise()));
  const labels = new Int32Array(nC);
  labels[7] = 1;
  labels[47] = 3;
  const opts = options(nC, { labels, sampleShift: adcSampleShift('np1', nC), saturationMaxCount: 512 });
  const binding = loadCpuBinding();
  binding.setThreads(1);
  const one = destripeBatch({ data: raw, nChannels: nC }, opts);
  binding.setThreads(2);
  const two = destripeBatch({ data: raw, nChannels: nC }, opts);
  binding.setThreads(0);
  assert.deepEqual(Buffer.from(one.data.buffer), Buffer.from(two.data.buffer));
});

test('destripeBatch into a reused buffer: every value overwritten, bitwise a new block; a wrong length throws', () => {
  const nC = 24;
  const nS = 1500;
  const noise = gaussian(7);
  const raw = Int16Array.from({ length: nS * nC }, () => Math.round(40 * noise()));
  const labels = new Int32Array(nC);
  labels[5] = 1;
  for (const kfilter of [false, true]) {
    for (const mute of [false, true]) {
      const opts = options(nC, {
        labels,
        sampleShift: adcSampleShift('np1', nC),
        kfilter,
        mute,
        saturationMaxCount: 512,
      });
      const fresh = destripeBatch(
        { data: raw, nChannels: nC },
        { ...opts, commonReference: new Uint8Array(nC).fill(1) },
      );
      // A used buffer: garbage (NaN, large values) in every value before the call.
      const buffer = Float32Array.from({ length: nS * nC + 10 }, (_, i) => (i % 3 === 0 ? NaN : 1e30));
      const out = buffer.subarray(0, nS * nC);
      const tail = buffer.slice(nS * nC);
      const reused = destripeBatch(
        { data: raw, nChannels: nC },
        { ...opts, commonReference: new Uint8Array(nC).fill(1) },
        out,
      );
      assert.equal(reused.data, out);
      assert.equal(reused.nSaturated, fresh.nSaturated);
      assert.deepEqual(Buffer.from(out.buffer, out.byteOffset, out.byteLength), Buffer.from(fresh.data.buffer));
      assert.deepEqual(buffer.subarray(nS * nC), tail, 'the values beyond out are left alone');
    }
  }
  assert.throws(
    () => destripeBatch({ data: raw, nChannels: nC }, options(nC, {}), new Float32Array(nS * nC - 1)),
    /out length/,
  );
});

test('commonReference: the median reference in the chain is bitwise commonMedianReference after it', () => {
  const nChannels = 30;
  const nSamples = 2000;
  const randn = gaussian(5);
  const raw = Int16Array.from({ length: nSamples * nChannels }, () => Math.round(40 * randn()));
  const labels = new Int32Array(nChannels);
  labels[7] = 1;
  const good = Uint8Array.from({ length: nChannels }, (_, c) => (c === 3 ? 0 : 1));
  for (const kfilter of [false, true]) {
    const base = options(nChannels, { labels, sampleShift: adcSampleShift('np1', nChannels), kfilter, mute: false });
    const after = commonMedianReference(destripeBatch({ data: raw, nChannels }, base), good);
    const inChain = destripeBatch({ data: raw, nChannels }, { ...base, commonReference: good });
    assert.deepEqual(inChain.data, after.data);
  }
  assert.throws(
    () => destripeBatch({ data: raw, nChannels }, options(nChannels, { commonReference: new Uint8Array(3) })),
    /commonReference length/,
  );
});
