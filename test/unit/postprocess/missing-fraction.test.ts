// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amplitudeCutoff } from '../../../coordinator/postprocess/cutoff.js';
import { missingFraction } from '../../../coordinator/postprocess/missing-fraction.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';

const FS = 30_000;

function normal(rng: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** n draws of N(mean, sd) that exceed `floor` (a detection threshold). */
function truncatedNormal(rng: SeededRandom, n: number, mean: number, sd: number, floor: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const v = mean + sd * normal(rng);
    if (v > floor) out.push(v);
  }
  return out;
}

test('missingFraction: a whole distribution misses nothing, one cut at its mode misses half', () => {
  const rng = new SeededRandom(11);
  const whole = missingFraction(truncatedNormal(rng, 2000, 20, 3, -Infinity));
  assert.ok(whole < 0.02, `whole ${whole}`);
  const half = missingFraction(truncatedNormal(rng, 2000, 20, 3, 20));
  assert.ok(half > 0.4, `half ${half}`);
  // cut one σ below the mean: Φ(−1) ≈ 0.16 of the neuron is below threshold
  const oneSigma = missingFraction(truncatedNormal(rng, 4000, 20, 3, 17));
  assert.ok(oneSigma > 0.1 && oneSigma < 0.25, `one sigma ${oneSigma}`);
});

test('missingFraction: a pile-up at the smallest amplitude (noise above threshold) is cut at its peak', () => {
  const rng = new SeededRandom(12);
  // background events: amplitudes falling off from the threshold (8) upward
  const noise = Array.from({ length: 400 }, () => 8 - 1.5 * Math.log(1 - rng.next()));
  assert.equal(missingFraction(noise), 0.5);
  assert.equal(missingFraction([1, 2, 3]), 0.5);
});

/** Poisson train whose events are at least `deadMs` apart (matching pursuit's ±2 ms lockout). */
function lockedOutTrain(rng: SeededRandom, rateHz: number, seconds: number, deadMs: number): Float64Array {
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rng.next()) / rateHz + deadMs / 1000;
    if (t >= seconds) break;
    out.push(Math.round(t * FS));
  }
  return Float64Array.from(out);
}

test('the cut-off labels a noise cluster with a lockout gap mua, and a neuron of the same rate good', () => {
  const rng = new SeededRandom(13);
  // 120 s at 3 Hz: a few hundred spikes whose auto-correlogram is empty within ±2 ms
  const samples = lockedOutTrain(rng, 3, 120, 2.1);
  const n = samples.length;
  const options = {
    sampleRateHz: FS,
    startThreshold: 6,
    endThreshold: 3,
    step: 0.5,
    tolerance: 0.1,
    maxPValue: 0.05,
  };
  const noiseAmplitudes = Float64Array.from({ length: n }, () => 8 - 1.5 * Math.log(1 - rng.next()));
  const neuronAmplitudes = Float64Array.from(truncatedNormal(rng, n, 20, 3, 8));
  const scores = Float32Array.from(noiseAmplitudes, (a) => a - 1);
  const clusters = new Uint32Array(n);
  // the refractory test alone cannot tell: both pass
  assert.equal(amplitudeCutoff(samples, clusters, scores, 1, options).good[0], true);
  const noise = amplitudeCutoff(samples, clusters, scores, 1, { ...options, maxMissingFraction: 0.1 }, noiseAmplitudes);
  assert.equal(noise.good[0], false);
  assert.equal(noise.missing[0], 0.5);
  const neuron = amplitudeCutoff(
    samples,
    clusters,
    Float32Array.from(neuronAmplitudes, (a) => a - 1),
    1,
    { ...options, maxMissingFraction: 0.1 },
    neuronAmplitudes,
  );
  assert.equal(neuron.good[0], true);
  assert.ok(neuron.missing[0]! < 0.05, `neuron missing ${neuron.missing[0]}`);
  assert.throws(
    () => amplitudeCutoff(samples, clusters, scores, 1, { ...options, maxMissingFraction: 0.1 }),
    /amplitudes/,
  );
});
