// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParameterError } from '../../../proto/errors.js';
import {
  ChannelLabel,
  applyWhitening,
  badChannelFeatures,
  butterworthHighpassSos,
  channelCovariance,
  channelLabelMode,
  commonMedianReference,
  goodChannelMask,
  highpass,
  labelBadChannels,
  loadCpuBinding,
  localWhitening,
  preprocessBatch,
  whiteningCovariance,
  whiteningInverse,
} from '../../../native/lib/index.js';
import type { LocalWhitening } from '../../../native/lib/index.js';

const fsHz = 30_000;
const filter = { sampleRateHz: fsHz, cutoffHz: 300, order: 3 };

/** Deterministic standard normal numbers (mulberry32 + Box–Muller). */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

test('the designed sections equal scipy.signal.butter(3, 300, "highpass", fs=30000, output="sos")', () => {
  // Printed by scipy 1.17.1 with repr(); rows [b0 b1 b2 a0 a1 a2].
  const scipy = [
    0.9390916523119581, -0.9390916523119581, 0, 1, -0.9390625058174923, 0, 1, -2, 1, 1, -1.9352943868599919,
    0.939120798806424,
  ];
  const sos = butterworthHighpassSos(filter);
  assert.ok(maxAbsDiff(sos, scipy) < 1e-13);
});

test('highpass passes 3 kHz unchanged, removes DC, and int16 with stride and gains matches float', () => {
  const nSamples = 6000;
  const nChannels = 2;
  const data = new Float32Array(nSamples * nChannels);
  for (let t = 0; t < nSamples; t++) {
    data[t * 2] = Math.sin((2 * Math.PI * 3000 * t) / fsHz);
    data[t * 2 + 1] = 7;
  }
  const out = highpass({ data, nChannels }, filter);
  assert.equal(out.nSamples, nSamples);
  for (let t = 1000; t < nSamples - 1000; t++) {
    assert.ok(Math.abs(out.data[t * 2]! - data[t * 2]!) < 1e-5, `sample ${t}`);
    assert.ok(Math.abs(out.data[t * 2 + 1]!) < 1e-6, `DC at sample ${t}`);
  }

  // Three values per row, two channels used, gains 2 and 0.5: same as the float block scaled.
  const random = normals(1);
  const raw = new Int16Array(nSamples * 3);
  const scaled = new Float32Array(nSamples * 2);
  for (let t = 0; t < nSamples; t++) {
    for (let c = 0; c < 3; c++) raw[t * 3 + c] = Math.round(100 * random());
    scaled[t * 2] = raw[t * 3]! * 2;
    scaled[t * 2 + 1] = raw[t * 3 + 1]! * 0.5;
  }
  const fromInt16 = highpass(
    { data: raw, nChannels: 2, rowStride: 3 },
    { ...filter, gains: new Float64Array([2, 0.5]) },
  );
  const fromFloat = highpass({ data: scaled, nChannels: 2 }, filter);
  assert.ok(maxAbsDiff(fromInt16.data, fromFloat.data) < 1e-4);
});

test('commonMedianReference removes a common signal, keeps a one-channel spike, leaves its input alone', () => {
  const nSamples = 200;
  const nChannels = 5;
  const offsets = [-3, 1, 0, 4, -1]; // median 0
  const data = new Float32Array(nSamples * nChannels);
  for (let t = 0; t < nSamples; t++) {
    for (let c = 0; c < nChannels; c++) data[t * nChannels + c] = 30 * Math.sin(t / 7) + offsets[c]!;
  }
  data[100 * nChannels + 0] = data[100 * nChannels + 0]! - 50; // below the median already: median unchanged
  const before = Float32Array.from(data);
  const out = commonMedianReference({ data, nSamples, nChannels }, new Uint8Array(nChannels).fill(1));
  assert.deepEqual(data, before);
  for (let t = 0; t < nSamples; t++) {
    for (let c = 0; c < nChannels; c++) {
      const expected = offsets[c]! + (t === 100 && c === 0 ? -50 : 0);
      assert.ok(Math.abs(out.data[t * nChannels + c]! - expected) < 1e-4);
    }
  }
});

test('bad-channel labels: dead, noisy and outside-brain channels of a synthetic window', () => {
  // 32 channels, 0.4 s. In-brain channels share low- and high-frequency signals; channel 5 is flat,
  // channel 12 carries 40 µV of white noise, channels 24..31 (the top) lack the high-frequency part.
  const nChannels = 32;
  const nSamples = 12_000;
  const uvPerCount = 2.34375;
  const random = normals(2);
  const raw = new Int16Array(nSamples * nChannels);
  for (let t = 0; t < nSamples; t++) {
    const s = t / fsHz;
    const lf = 30 * Math.sin(2 * Math.PI * 20 * s) + 30 * Math.sin(2 * Math.PI * 45 * s + 1);
    const hf = 8 * Math.sin(2 * Math.PI * 700 * s) + 8 * Math.sin(2 * Math.PI * 2900 * s + 1.5);
    for (let c = 0; c < nChannels; c++) {
      let v = (c >= 24 ? lf : lf + hf) + 2 * random();
      if (c === 12) v += 40 * random();
      if (c === 5) v = 0;
      raw[t * nChannels + c] = Math.round(v / uvPerCount);
    }
  }
  const features = badChannelFeatures(
    { data: raw, nChannels },
    { sampleRateHz: fsHz, gainsUvPerUnit: new Float64Array(nChannels).fill(uvPerCount) },
  );
  const labels = labelBadChannels(features);
  const expected = Int32Array.from({ length: nChannels }, (_, c) =>
    c === 5 ? ChannelLabel.dead : c === 12 ? ChannelLabel.noisy : c >= 24 ? ChannelLabel.outside : ChannelLabel.good,
  );
  assert.deepEqual(labels, expected);
  assert.ok(features.psdHf[12]! > 0.02 && features.psdHf[0]! < 0.002);

  const mode = channelLabelMode([labels, labels, new Int32Array(nChannels)]);
  assert.deepEqual(mode, labels);
  assert.deepEqual(channelLabelMode([new Int32Array([0, 2]), new Int32Array([2, 1])]), new Int32Array([0, 1]));
  const mask = goodChannelMask(labels);
  assert.equal(mask[5], 0);
  assert.equal(mask[0], 1);
});

test('whitening of a diagonal covariance is 1/sqrt(variance + epsilon), and its inverse undoes it', () => {
  const nChannels = 4;
  const variances = [1, 4, 9, 16];
  const labels = new Int32Array(nChannels);
  const windows = [0, 1, 2].map((w) => {
    const cov = new Float64Array(nChannels * nChannels);
    variances.forEach((v, c) => (cov[c * nChannels + c] = v * (1 + 0.1 * (w - 1)))); // median: the middle window
    return cov;
  });
  const cc = whiteningCovariance(windows, labels);
  const whitening = localWhitening(cc, {
    xUm: new Float64Array(nChannels),
    yUm: Float64Array.from({ length: nChannels }, (_, c) => 20 * c),
    labels,
    nNearest: 32,
  });
  assert.equal(whitening.nNearest, nChannels);
  assert.ok(Math.abs(whitening.epsilon - 1e-3 * 7.5) < 1e-15);
  for (let j = 0; j < nChannels; j++) {
    assert.equal(whitening.indices[j * nChannels], j);
    const w = 1 / Math.sqrt(variances[j]! + whitening.epsilon);
    assert.ok(Math.abs(whitening.weights[j * nChannels]! - w) < 1e-7 * w);
    assert.ok(Math.abs(whitening.dense[j * nChannels + j]! - w) < 1e-15);
  }
  const inverse = whiteningInverse(whitening);
  for (let j = 0; j < nChannels; j++) {
    assert.ok(Math.abs(inverse[j * nChannels + j]! - Math.sqrt(variances[j]! + whitening.epsilon)) < 1e-12);
  }
});

function chainInputs(): { raw: Int16Array; nChannels: number; good: Uint8Array; whitening: LocalWhitening } {
  const nChannels = 12;
  const nSamples = 1500;
  const random = normals(3);
  const raw = new Int16Array(nSamples * nChannels);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.round(30 * random());
  const good = new Uint8Array(nChannels).fill(1);
  good[2] = 0;
  const filtered = highpass({ data: raw, nChannels }, filter);
  const whitening = localWhitening(channelCovariance(filtered), {
    xUm: Float64Array.from({ length: nChannels }, (_, c) => 32 * (c % 2)),
    yUm: Float64Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2)),
    labels: new Int32Array(nChannels),
    nNearest: 6,
  });
  return { raw, nChannels, good, whitening };
}

test('preprocessBatch without the common reference equals highpass then applyWhitening', () => {
  const { raw, nChannels, good, whitening } = chainInputs();
  const fused = preprocessBatch({ data: raw, nChannels }, { ...filter, good, whitening, commonReference: false });
  const stepwise = applyWhitening(highpass({ data: raw, nChannels }, filter), whitening);
  assert.deepEqual(fused.data, stepwise.data);
});

test('preprocessBatch equals highpass, commonMedianReference and applyWhitening in turn, bit for bit', () => {
  const { raw, nChannels, good, whitening } = chainInputs();
  const fused = preprocessBatch({ data: raw, nChannels }, { ...filter, good, whitening, scale: 200 });
  const stepwise = applyWhitening(
    commonMedianReference(highpass({ data: raw, nChannels }, filter), good),
    whitening,
    200,
  );
  assert.equal(fused.nSamples, 1500);
  assert.deepEqual(fused.data, stepwise.data);
});

test('the raw bindings reject wrong types with TypeError and wrong sizes with RangeError', () => {
  const binding = loadCpuBinding() as unknown as Record<string, (args: unknown) => unknown>;
  const { raw, nChannels, good, whitening } = chainInputs();
  const args = {
    raw,
    nSamples: raw.length / nChannels,
    nChannels,
    rowStride: nChannels,
    gains: null,
    good,
    indices: whitening.indices,
    weights: whitening.weights,
    nNearest: whitening.nNearest,
    ...filter,
    scale: 1,
    commonReference: true,
  };
  const preprocess = binding['preprocessBatch']!;
  assert.ok(preprocess(args) instanceof Float32Array);
  assert.throws(() => preprocess({ ...args, raw: new Float32Array(raw.length) }), {
    name: 'TypeError',
    message: /preprocessBatch: options\.raw must be an Int16Array, got Float32Array/,
  });
  assert.throws(() => preprocess({ ...args, good: undefined }), TypeError);
  assert.throws(() => preprocess([1, 2]), TypeError);
  assert.throws(() => preprocess({ ...args, nSamples: 10 }), {
    name: 'RangeError',
    message: /options\.raw must hold 120/,
  });
  assert.throws(() => preprocess({ ...args, rowStride: nChannels - 1 }), RangeError);
  assert.throws(() => preprocess({ ...args, nNearest: 2.5 }), RangeError);
  assert.throws(() => preprocess({ ...args, cutoffHz: 20_000 }), { name: 'RangeError', message: /cutoff/ });
  // Shorter than the filter's edge padding (12 samples): the core's error becomes a RangeError.
  assert.throws(() => preprocess({ ...args, raw: raw.subarray(0, 12 * nChannels), nSamples: 12 }), {
    name: 'RangeError',
    message: /padding/,
  });
  const badIndices = Int32Array.from(whitening.indices);
  badIndices[3] = nChannels;
  assert.throws(() => preprocess({ ...args, indices: badIndices }), RangeError);
  assert.throws(
    () => binding['invertMatrix']!({ matrix: new Float64Array([1, 2, 2, 4]), n: 2 }),
    (e: unknown) => e instanceof Error && !(e instanceof RangeError) && /singular/.test(e.message),
  );
});

test('the wrappers check shapes with ParameterError', () => {
  assert.throws(() => highpass({ data: new Float32Array(10), nChannels: 3 }, filter), ParameterError);
  assert.throws(() => highpass({ data: new Float32Array(12), nChannels: 3, rowStride: 2 }, filter), ParameterError);
  assert.throws(
    () => commonMedianReference({ data: new Float32Array(12), nSamples: 4, nChannels: 3 }, new Uint8Array(2)),
    ParameterError,
  );
  assert.throws(() => channelLabelMode([]), ParameterError);
});
