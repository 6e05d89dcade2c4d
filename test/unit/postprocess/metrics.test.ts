// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UNIT_METRICS_PARAMS,
  contaminationEstimate,
  contaminationHill,
  gaussianSmooth,
  lnGamma,
  median,
  missedSpikesEstimate,
  noiseCutoff,
  poissonAbove,
  presenceRatio,
  slidingRefractory,
  unitMetrics,
} from '../../../coordinator/postprocess/metrics.js';

function close(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, expected ${want} ± ${tol}`);
}

test('Poisson tail probabilities: small case by hand, large case by direct summation', () => {
  close(lnGamma(5), Math.log(24), 1e-13, 'lnΓ(5)');
  close(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13, 'lnΓ(½)');
  // P(X > 2), λ = 1.5: 1 − e^−1.5 (1 + 1.5 + 1.5²/2).
  close(poissonAbove(2, 1.5), 1 - Math.exp(-1.5) * (1 + 1.5 + 1.125), 1e-14, 'P(X>2; 1.5)');
  assert.equal(poissonAbove(0, 0), 0);
  close(poissonAbove(0, 1e-6), -Math.expm1(-1e-6), 1e-20, 'P(X>0; 1e-6)');
  // Both branches of the incomplete gamma (series below k + 2, continued fraction above).
  for (const [k, lambda] of [
    [100, 100],
    [100, 80],
    [30, 60],
    [2000, 2100],
  ] as const) {
    let cdf = 0;
    for (let i = 0; i <= k; i++) cdf += Math.exp(-lambda + i * Math.log(lambda) - lnGamma(i + 1));
    close(poissonAbove(k, lambda), 1 - cdf, 1e-11, `P(X>${k}; ${lambda})`);
  }
});

test('presence ratio: 10 s windows from the first to the last spike', () => {
  // Windows [0,10) [10,20) [20,30) [30,40): counts 2 0 1 1.
  const r = presenceRatio([0, 1, 25, 31], 0, 31, 10);
  assert.equal(r.ratio, 0.75);
  close(r.std, Math.sqrt(0.5), 1e-15, 'std of counts');
});

test('contamination (duplicates removed) and Hill contamination by hand', () => {
  // 5e-5 s after the first spike is a duplicate; ISIs then 1 ms and 0.5 ms violate 1.5 ms.
  const times = [0, 0.00005, 0.001, 0.01, 0.0105, 1.0];
  close(contaminationEstimate(times, 0, 10, 0.0015, 0.0001), 2 / (2 * 5 * 0.0014) / (5 / 10), 1e-9, 'contamination');
  // v = 1, T = 2 s, n = 4: k = 2 / (2 · 0.0015 · 16); root (√(1 + 4k) − 1) / 2.
  const k = 2 / (2 * 0.0015 * 16);
  const c = contaminationHill([0, 0.001, 1, 2], 0.0015);
  close(c, (Math.sqrt(1 + 4 * k) - 1) / 2, 1e-12, 'Hill');
  // −c is the negative root of −x² + x + k.
  close(-c * c - c + k, 0, 1e-9, 'root');
  assert.equal(contaminationHill([0, 1, 2], 0.0015), 0);
});

test('noise cut-off on a histogram laid out by hand', () => {
  // max 99 → bin k holds amplitudes in [k, k+1): bins 10:1, 11:5, 20:10 (peak), 30:4, 40:6, 50:2, 98:1.
  const amps: number[] = [];
  const put = (a: number, n: number): void => void amps.push(...Array.from({ length: n }, () => a));
  put(10.5, 1);
  put(11.5, 5);
  put(20.5, 10);
  put(30.5, 4);
  put(40.5, 6);
  put(50.5, 2);
  put(99, 1);
  // Top half: 4 non-empty bins from the peak (20) to bin 97 → upper bins from ⌈0.5·4 + 20⌉ = 22:
  // heights 4, 6, 2, 1 (mean 3.25, population SD √3.6875); second non-empty bin holds 5.
  close(noiseCutoff(amps, 100, 0.25), (5 - 3.25) / Math.sqrt(3.6875), 1e-12, 'noise cutoff');
  // Scale-free: the same in volts.
  close(
    noiseCutoff(
      amps.map((a) => a * 1e-6),
      100,
      0.25,
    ),
    (5 - 3.25) / Math.sqrt(3.6875),
    1e-9,
    'in V',
  );
  assert.ok(Number.isNaN(noiseCutoff([1], 100, 0.25)));
  assert.ok(Number.isNaN(noiseCutoff([1, 1, 1], 100, 0.25)), 'no spread in the upper bins');
});

test('Gaussian smoothing reflects at the edges and keeps the sum', () => {
  const x = [0, 0, 1, 0, 0];
  const y = gaussianSmooth(x, 1);
  let norm = 0;
  for (let k = -4; k <= 4; k++) norm += Math.exp(-0.5 * k * k);
  close(y[2]!, 1 / norm, 1e-15, 'centre');
  // out[0] sees x[2] at offsets +2 and −3 (−3 → index 2 after reflection: −1→0, −2→1, −3→2).
  close(y[0]!, (Math.exp(-2) + Math.exp(-4.5)) / norm, 1e-15, 'edge');
  close(
    y.reduce((a, b) => a + b, 0),
    1,
    1e-12,
    'sum',
  );
});

test('missed-spikes estimate on an unsmoothed histogram', () => {
  // σ = 0.1 bins → radius 0 (no smoothing); 6 spikes, 1 per bin → 6 bins of width 5/6 over [0, 5]:
  // heights 1 3 1 0 0 1; peak at bin 1; bin 2 matches the first bin's height → tail = 2 of 6.
  close(missedSpikesEstimate([0, 1, 1, 1, 2, 5], 1, 0.1, 1), 1 / 3, 1e-15, 'missed');
  assert.ok(Number.isNaN(missedSpikesEstimate([0, 1, 2], 1, 0.1, 3)), 'too few spikes');
  // A tail that holds most of the mass is capped at one half.
  assert.equal(missedSpikesEstimate([0, 5, 5, 5, 5, 5], 1, 0.1, 1), 0.5);
});

test('median, odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('sliding refractory period: tiny trains by hand', () => {
  // Pairs 1–2 s apart: (0, 1.5), (1.5, 3) → 2 pairs / 3 spikes; no pair within 10 ms.
  const a = slidingRefractory([0, 1.5, 3]);
  close(a.firingRateHz, 2 / 3, 1e-15, 'rate');
  assert.equal(a.nSpikesBelow2, 0);
  // Best confidence at the longest RP (10 ms): λ = fr · 10 % · 0.01 s · 2 · n, 0 violations.
  close(a.maxConfidencePct, 100 * (1 - Math.exp(-(2 / 3) * 0.1 * 0.01 * 2 * 3)), 1e-12, 'max confidence');
  assert.ok(Number.isNaN(a.minContaminationPct));
  assert.equal(a.pass, 0);
  assert.equal(a.passForced, 1, 'no pair below 2 ms and 0.67 Hz > 0.5 Hz');

  // One pair 6 ticks (0.2 ms) apart: a violation at every RP from 0.2 ms on.
  const b = slidingRefractory([0, 1.5, 3, 3.0002]);
  close(b.firingRateHz, 3 / 4, 1e-15, 'rate');
  assert.equal(b.nSpikesBelow2, 1);
  const lambda = 0.75 * 0.1 * 0.01 * 2 * 4;
  close(b.maxConfidencePct, 100 * (1 - Math.exp(-lambda) * (1 + lambda)), 1e-12, 'max confidence');
  assert.equal(b.passForced, 0);
});

test('sliding refractory period: a clean 50 Hz train passes at 0.5 % contamination', () => {
  const times = Array.from({ length: 5000 }, (_, k) => k * 0.02);
  const r = slidingRefractory(times);
  // Lags m · 20 ms with m = 50 … 99 lie in [1, 2) s: Σ (5000 − m) pairs.
  close(r.firingRateHz, (50 * 5000 - (50 * (50 + 99)) / 2) / 5000, 1e-12, 'rate');
  assert.equal(r.minContaminationPct, 0.5);
  assert.equal(r.pass, 1);
  close(r.maxConfidencePct, 100, 1e-9, 'confidence');
  assert.equal(r.nSpikesBelow2, 0);
});

test('the metrics table of three clusters (one empty), by hand', () => {
  const m = unitMetrics({
    timesS: [0, 5, 10, 20, 30],
    clusters: [0, 1, 0, 0, 1],
    ampsV: [1e-4, 2e-5, 1e-5, 1e-4, 2e-5],
    depthsUm: [100, 0, 110, 90, 0],
    nClusters: 3,
    ks2Labels: ['good', 'mua', 'mua'],
  });
  assert.deepEqual(Array.from(m.spike_count), [3, 2, 0]);
  assert.deepEqual(Array.from(m.cluster_id), [0, 1, 2]);
  // Recording span 0 … 30 s.
  close(m.firing_rate[0]!, 3 / 30, 1e-15, 'rate 0');
  close(m.firing_rate[1]!, 2 / 30, 1e-15, 'rate 1');
  close(m.drift[0]!, ((10 + 20) / 30) * 3600, 1e-9, 'drift µm/h');
  assert.equal(m.drift[1], 0);
  // Geometric median of 1e-4, 1e-5, 1e-4 V; SD (n − 1) of −80, −100, −80 dB.
  close(m.amp_median[0]!, 1e-4, 1e-16, 'amp median');
  close(m.amp_std_dB[0]!, Math.sqrt(400 / 3), 1e-9, 'amp SD dB');
  assert.equal(m.amp_max[0], 1e-4);
  assert.equal(m.amp_min[0], 1e-5);
  // Windows [0,10) [10,20) [20,30) [30,40): cluster 0 has 1 1 1 0, cluster 1 has 1 0 0 1.
  assert.equal(m.presence_ratio[0], 0.75);
  assert.equal(m.presence_ratio[1], 0.5);
  // Cluster 0 passes only the amplitude criterion (1e-4 V > 50 µV): bits 0 (RP) and 1 (noise cut-off).
  assert.equal(m.bitwise_fail[0], 3);
  close(m.label[0]!, 1 / 3, 1e-15, 'label');
  assert.equal(m.bitwise_fail[1], 7);
  assert.equal(m.label[1], 0);
  assert.equal(m.bitwise_fail[2], 7);
  assert.ok(Number.isNaN(m.amp_median[2]!) && Number.isNaN(m.firing_rate[2]!));
  assert.deepEqual(m.ks2_label, ['good', 'mua', 'mua']);
  assert.throws(
    () => unitMetrics({ timesS: [0], clusters: [3], ampsV: [1], depthsUm: [0], nClusters: 2, ks2Labels: ['a', 'b'] }),
    /spike 0 expected a cluster in \[0, 2\), got 3/,
  );
  assert.equal(UNIT_METRICS_PARAMS.labelMinAmpMedianV, 50e-6);
});

test('a unit that passes every criterion is labelled 1', () => {
  // 50 Hz regular train for 100 s with amplitudes spread evenly between 80 and 120 µV.
  const n = 5000;
  const timesS = Array.from({ length: n }, (_, k) => k * 0.02);
  const ampsV = Array.from({ length: n }, (_, k) => (80 + ((k * 37) % 41)) * 1e-6);
  const m = unitMetrics({
    timesS,
    clusters: new Array<number>(n).fill(0),
    ampsV,
    depthsUm: new Array<number>(n).fill(500),
    nClusters: 1,
    ks2Labels: ['good'],
  });
  assert.ok(m.noise_cutoff[0]! < 5, `noise cutoff ${m.noise_cutoff[0]}`);
  assert.equal(m.bitwise_fail[0], 0);
  assert.equal(m.label[0], 1);
  assert.equal(m.presence_ratio[0], 1);
  assert.equal(m.drift[0], 0);
});
