// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ccgMetrics,
  correlogram,
  normalCdf,
  refractoryCorrelogram,
  refractoryMetrics,
} from '../../../coordinator/postprocess/ccg.js';
import { findMerges } from '../../../coordinator/postprocess/merges.js';
import { amplitudeCutoff } from '../../../coordinator/postprocess/cutoff.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';

const FS = 30_000;

/** Poisson train at `rateHz` over `seconds`, with a dead time of `refractoryMs` after each spike. */
function train(rng: SeededRandom, rateHz: number, seconds: number, refractoryMs: number): Float64Array {
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rng.next()) / rateHz + refractoryMs / 1000;
    if (t >= seconds) break;
    out.push(Math.round(t * FS));
  }
  return Float64Array.from(out);
}

function sortedUnion(...trains: Float64Array[]): { samples: Float64Array; labels: Uint32Array } {
  const all: Array<[number, number]> = [];
  trains.forEach((tr, c) => tr.forEach((s) => all.push([s, c])));
  all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { samples: Float64Array.from(all.map((x) => x[0])), labels: Uint32Array.from(all.map((x) => x[1])) };
}

test('normalCdf matches known values', () => {
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
  assert.ok(Math.abs(normalCdf(-3) - 0.0013499) < 1e-6);
});

test('correlogram counts lags in 1 ms bins and skips self-pairs of an auto-correlogram', () => {
  const t = Float64Array.from([0, 30, 90]);
  const k = correlogram(t, t, FS, true, 5);
  // lags (ms): ±1, ±3, ±2 → bins 5±1, 5±3, 5±2
  assert.deepEqual(Array.from(k), [0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0]);
});

test('a refractory train is clean and a Poisson train is contaminated', () => {
  const rng = new SeededRandom(1);
  const clean = train(rng, 20, 600, 2.5);
  const m = ccgMetrics(clean, clean, FS, true);
  assert.ok(m.contamination < 0.05, `clean contamination ${m.contamination}`);
  assert.ok(m.pValue < 1e-6);
  const dirty = train(rng, 20, 600, 0);
  const d = ccgMetrics(dirty, dirty, FS, true);
  assert.ok(d.contamination > 0.5, `poisson contamination ${d.contamination}`);
  assert.ok(d.pValue > 0.01);
});

test('a neuron split in two clusters is merged; an independent neighbour is not', () => {
  const rng = new SeededRandom(2);
  const neuron = train(rng, 15, 600, 2.5);
  const half1: number[] = [];
  const half2: number[] = [];
  neuron.forEach((s) => (rng.next() < 0.3 ? half1 : half2).push(s));
  const other = train(rng, 15, 600, 2.5);
  const { samples, labels } = sortedUnion(Float64Array.from(half1), Float64Array.from(half2), other);
  const sim = new Float32Array([1, 0.9, 0.8, 0.9, 1, 0.8, 0.8, 0.8, 1]);
  const r = findMerges(samples, labels, 3, sim, {
    sampleRateHz: FS,
    similarityThreshold: 0.5,
    maxContamination: 0.2,
    maxPValue: 0.05,
  });
  assert.deepEqual(r.merges, [{ from: 0, into: 1 }]);
  assert.equal(new Set(r.clusters).size, 2);
  for (let i = 0; i < labels.length; i++) assert.equal(r.clusters[i], labels[i] === 2 ? 2 : 1);
});

test('dissimilar templates are never merged even with a refractory cross-correlogram', () => {
  const rng = new SeededRandom(3);
  const neuron = train(rng, 15, 300, 2.5);
  const a: number[] = [];
  const b: number[] = [];
  neuron.forEach((s, i) => (i % 2 ? a : b).push(s));
  const { samples, labels } = sortedUnion(Float64Array.from(a), Float64Array.from(b));
  const r = findMerges(samples, labels, 2, new Float32Array([1, 0.2, 0.2, 1]), {
    sampleRateHz: FS,
    similarityThreshold: 0.5,
    maxContamination: 0.2,
    maxPValue: 0.05,
  });
  assert.deepEqual(r.merges, []);
});

test('the cut-off drops low-score contaminating spikes and labels the clean cluster good', () => {
  const rng = new SeededRandom(4);
  const neuron = train(rng, 10, 600, 2.5);
  const noise = train(rng, 10, 600, 0);
  const { samples, labels } = sortedUnion(neuron, noise);
  const clusters = new Uint32Array(labels.length); // one cluster holding both
  const scores = Float32Array.from(labels, (l) => (l === 0 ? 12 + rng.next() * 5 : 3 + rng.next() * 1.5));
  const r = amplitudeCutoff(samples, clusters, scores, 1, {
    sampleRateHz: FS,
    startThreshold: 6,
    endThreshold: 3,
    step: 0.5,
    tolerance: 0.1,
    maxPValue: 0.05,
  });
  assert.equal(r.good[0], true);
  assert.ok(r.thresholds[0]! >= 4.5, `threshold ${r.thresholds[0]}`);
  for (let i = 0; i < labels.length; i++) assert.equal(r.keep[i], labels[i] === 0 ? 1 : 0);
  assert.ok(r.contamination[0]! < 0.1);
});

test('a contaminated cluster is mua and keeps only spikes above the first threshold', () => {
  const rng = new SeededRandom(5);
  const noise = train(rng, 30, 300, 0);
  const scores = Float32Array.from(noise, () => 3 + rng.next() * 10);
  const r = amplitudeCutoff(noise, new Uint32Array(noise.length), scores, 1, {
    sampleRateHz: FS,
    startThreshold: 6,
    endThreshold: 3,
    step: 0.5,
    tolerance: 0.1,
    maxPValue: 0.05,
  });
  assert.equal(r.good[0], false);
  assert.equal(r.thresholds[0], 6.5);
  for (let i = 0; i < noise.length; i++) assert.equal(r.keep[i], scores[i]! > 6.5 ? 1 : 0);
});

test('quirk 3 fixed: a flat correlogram has contamination 1 whatever the window (each window normalised by its own expected count)', () => {
  const flat = new Float64Array(1001).fill(10);
  const auto = refractoryMetrics(flat, false);
  // pykilosort's (sum / 2) · i would give 1.5 at i = 1 and more for wider windows
  assert.ok(Math.abs(auto.contamination - 1) < 1e-12, `contamination ${auto.contamination}`);
  assert.ok(auto.pValue > 0.4);
});

test('refractoryCorrelogram has the full correlogram’s central bins, range totals and metrics', () => {
  const rng = new SeededRandom(77);
  const ranges: Array<[number, number]> = [
    [0, 250],
    [251, 449],
    [450, 489],
    [511, 550],
    [551, 749],
    [750, 1000],
  ];
  const sum = (k: Float64Array, from: number, to: number): number => {
    let s = 0;
    for (let b = from; b <= to; b++) s += k[b]!;
    return s;
  };
  // 30 000.237 Hz: a calibrated SpikeGLX rate, bins of a non-integer number of samples.
  for (const fs of [30_000, 25_000, 30_000.237]) {
    for (const rateHz of [3, 40, 150]) {
      // Integer samples with repeated times (lag-0 pairs), over 20 s.
      const a = Float64Array.from(train(rng, rateHz, 20, 0), (s) => Math.round((s * fs) / FS)).sort();
      const b = Float64Array.from(train(rng, rateHz / 2, 20, 0), (s) => Math.round((s * fs) / FS)).sort();
      const withRepeats = Float64Array.from([...a, ...a.filter((_, i) => i % 7 === 0)]).sort();
      // A sparse train against a dense one: the pointers gallop over the dense train.
      const sparse = Float64Array.from(train(rng, rateHz / 20, 20, 0), (s) => Math.round((s * fs) / FS)).sort();
      // Fractional times take the general path (integer times the one with integer range boundaries).
      const fractional = a.map((s, i) => s + (i % 3) / 4).sort();
      for (const [t1, t2, auto] of [
        [withRepeats, withRepeats, true],
        [a, b, false],
        [b, a, false],
        [fractional, fractional, true],
        [fractional, b, false],
        [sparse, withRepeats, false],
        [sparse, fractional, false],
      ] as const) {
        const full = correlogram(t1, t2, fs, auto);
        const fast = refractoryCorrelogram(t1, t2, fs, auto);
        for (let l = -10; l <= 10; l++)
          assert.equal(
            fast[500 + l],
            full[500 + l],
            `bin ${l} at ${rateHz} Hz, fs ${fs}, auto ${auto}, t1 of ${t1.length}`,
          );
        for (const [from, to] of ranges) assert.equal(sum(fast, from, to), sum(full, from, to), `bins ${from}…${to}`);
        assert.equal(sum(fast, 0, 1000), sum(full, 0, 1000));
        assert.deepEqual(refractoryMetrics(fast, auto), refractoryMetrics(full, auto));
      }
    }
  }
});
