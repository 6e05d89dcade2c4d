// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpikeTrains, explainUnit } from '../../../coordinator/compare/index.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';

/** Sorted random spike times, at least 100 samples apart, over `span` samples. */
function randomTrain(rng: SeededRandom, n: number, span: number): number[] {
  const out = new Set<number>();
  while (out.size < n) out.add(100 * Math.floor((rng.next() * span) / 100));
  return [...out].sort((a, b) => a - b);
}

function trains(units: number[][]): ReturnType<typeof buildSpikeTrains> {
  const samples: number[] = [];
  const ids: number[] = [];
  units.forEach((u, k) => u.forEach((t) => (samples.push(t), ids.push(k))));
  return buildSpikeTrains(
    units.map((_, k) => k),
    Float64Array.from(samples),
    Int32Array.from(ids),
  );
}

test('explainUnit names fragments, shifted copies, mixtures, double detections, truncated and unexplained units', () => {
  const rng = new SeededRandom(21);
  const span = 3_600_000;
  const a = randomTrain(rng, 800, span);
  const b = randomTrain(rng, 800, span);
  const gt = trains([a, b]);
  const noise = randomTrain(rng, 400, span).map((t) => t + 37);
  const otherNoise = randomTrain(rng, 400, span).map((t) => t + 61);
  const tested = trains([
    a.filter((_, i) => i % 3 === 0), // 0: a third of a, on time
    a.slice(0, 400).map((t) => t + 18), // 1: a reported 18 samples late
    [...a.slice(0, 150), ...b.slice(600, 750), ...otherNoise.slice(0, 100).map((t) => t + 300)].sort((x, y) => x - y), // 2: a and b
    noise.map((t, i) => (i < 150 ? b[i]! + 5 : t)).sort((x, y) => x - y), // 3: noise, a third on b's events
    otherNoise, // 4: noise
    b.slice(400), // 5: the rest of b, so that unit 3's partner exists among the tested units
    b.slice(0, 400), // 6
  ]);
  const options = { deltaFrames: 12 };
  const full = Array.from({ length: 400 }, (_, i) => 20 + 3 * Math.sin(i * 1.7) * Math.sqrt((i % 37) / 37));
  const cut = Array.from({ length: 400 }, () => 8 - 1.5 * Math.log(1 - rng.next()));

  const fragment = explainUnit(gt, tested, 0, null, options);
  assert.equal(fragment.kind, 'fragment');
  assert.equal(fragment.bestGtUnit, 0);
  assert.ok(fragment.bestGtFraction > 0.99);

  const shifted = explainUnit(gt, tested, 1, null, options);
  assert.equal(shifted.kind, 'shifted copy');
  assert.equal(shifted.lagGtUnit, 0);
  assert.ok(Math.abs(shifted.lagSamples + 18) <= 2, `lag ${shifted.lagSamples}`);

  const mixture = explainUnit(gt, tested, 2, null, options);
  assert.equal(mixture.kind, 'mixture');
  assert.deepEqual([mixture.bestGtUnit, mixture.secondGtUnit].sort(), [0, 1]);

  const double = explainUnit(gt, tested, 3, cut, options);
  assert.equal(double.kind, 'double detection');
  assert.equal(double.partner, 6);
  assert.ok(Math.abs(double.partnerFraction - 150 / 400) < 0.02, `partner fraction ${double.partnerFraction}`);

  assert.equal(explainUnit(gt, tested, 4, cut, options).kind, 'truncated');
  const unexplained = explainUnit(gt, tested, 4, full, options);
  assert.equal(unexplained.kind, 'unexplained');
  assert.ok(unexplained.missingFraction !== null && unexplained.missingFraction < 0.1);
  assert.equal(explainUnit(gt, tested, 4, null, options).missingFraction, null);
});
