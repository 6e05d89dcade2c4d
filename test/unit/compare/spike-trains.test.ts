// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpikeTrains, countMatches, deltaFramesFor, selectUnits } from '../../../coordinator/compare/index.js';
import { trains } from './fixtures.js';

test('delta_frames is int(delta_ms / 1000 · fs), truncated', () => {
  assert.equal(deltaFramesFor(0.4, 30000), 12);
  assert.equal(deltaFramesFor(0.4, 25000), 10);
  assert.equal(deltaFramesFor(0.4, 30000.9), 12);
  assert.equal(deltaFramesFor(0.43, 30000), 12); // 12.9 → 12
  assert.equal(deltaFramesFor(0, 30000), 0);
});

test('spikes are sorted by (sample, unit index) and units by id', () => {
  const t = buildSpikeTrains([7, 3], Float64Array.from([50, 10, 50, 20]), [3, 7, 7, 3]);
  assert.deepEqual(t.unitIds, [3, 7]);
  assert.deepEqual([...t.samples], [10, 20, 50, 50]);
  assert.deepEqual([...t.units], [1, 0, 0, 1]);
  assert.deepEqual([...t.counts], [2, 2]);
});

test('spikes in time order with simultaneous spikes out of unit order are reordered within ties', () => {
  const t = buildSpikeTrains([1, 2, 3], Float64Array.from([10, 20, 20, 20, 30, 30]), [2, 3, 1, 2, 3, 1]);
  assert.deepEqual([...t.samples], [10, 20, 20, 20, 30, 30]);
  assert.deepEqual([...t.units], [1, 0, 1, 2, 0, 2]);
});

test('selectUnits keeps the chosen units in order and renumbers them', () => {
  const t = buildSpikeTrains([1, 2, 3], Float64Array.from([10, 20, 20, 30]), [2, 3, 1, 3]);
  const s = selectUnits(t, [3, 1, 99]);
  assert.deepEqual(s.unitIds, [1, 3]);
  assert.deepEqual([...s.counts], [1, 2]);
  assert.deepEqual([...s.samples], [20, 20, 30]);
  assert.deepEqual([...s.units], [0, 1, 1]);
});

test('units without spikes are kept; unknown unit ids and non-integer samples are refused', () => {
  const t = buildSpikeTrains([0, 1, 2], Float64Array.from([5]), [2]);
  assert.deepEqual([...t.counts], [0, 0, 1]);
  assert.throws(() => buildSpikeTrains([0], Float64Array.from([5]), [4]), /unit id 4/);
  assert.throws(() => buildSpikeTrains([0], Float64Array.from([5.5]), [0]), /not an integer/);
});

test('a shift of exactly delta_frames matches, delta_frames + 1 does not', () => {
  const gt = trains(
    [0],
    [
      [1000, 0],
      [2000, 0],
      [3000, 0],
      [4000, 0],
    ],
  );
  const tested = trains(
    [0],
    [
      [1012, 0], // +12: match
      [1988, 0], // −12: match
      [3013, 0], // +13: no match
      [3987, 0], // −13: no match
    ],
  );
  assert.deepEqual([...countMatches(gt, tested, 12)], [2]);
  assert.deepEqual([...countMatches(gt, tested, 13)], [4]);
});

test('a spike is matched at most once per unit pair', () => {
  // One ground-truth spike with three tested spikes around it: one match, not three.
  assert.deepEqual(
    [
      ...countMatches(
        trains([0], [[100, 0]]),
        trains(
          [0],
          [
            [98, 0],
            [101, 0],
            [103, 0],
          ],
        ),
        12,
      ),
    ],
    [1],
  );
  // Three ground-truth spikes around one tested spike: still one.
  assert.deepEqual(
    [
      ...countMatches(
        trains(
          [0],
          [
            [98, 0],
            [101, 0],
            [103, 0],
          ],
        ),
        trains([0], [[100, 0]]),
        12,
      ),
    ],
    [1],
  );
});

test('counts are per unit pair: one tested spike can match spikes of two ground-truth units', () => {
  const gt = trains(
    [0, 1],
    [
      [100, 0],
      [102, 1],
    ],
  );
  const tested = trains([5], [[101, 5]]);
  assert.deepEqual([...countMatches(gt, tested, 12)], [1, 1]);
});

test('a ground-truth burst can re-use a tested spike, and the count is clipped to the tested spike count', () => {
  // GT 0, 1, 2 against tested 1, 2 (delta 5): the sweep pairs 0–1, 1–2, then 2–1 again (the
  // tested spike at 1 is no longer the last matched one), 3 matches; clipped to the 2 tested spikes.
  const gt = trains(
    [0],
    [
      [0, 0],
      [1, 0],
      [2, 0],
    ],
  );
  const tested = trains(
    [0],
    [
      [1, 0],
      [2, 0],
    ],
  );
  assert.deepEqual([...countMatches(gt, tested, 5)], [2]);
  // The reverse direction is not clipped by the GT count, and the sweep gives 2 there too.
  assert.deepEqual([...countMatches(tested, gt, 5)], [2]);
});

test('the sweep agrees with a per-pair count on a random case', () => {
  let seed = 99;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const gtSpikes: Array<[number, number]> = [];
  const testedSpikes: Array<[number, number]> = [];
  for (let k = 0; k < 400; k++) {
    // Units 100 samples apart at least, so each per-pair count is unambiguous.
    const unit = k % 4;
    const t = k * 200 + unit;
    gtSpikes.push([t, unit]);
    if (random() < 0.8) testedSpikes.push([t + Math.round(random() * 30 - 15), unit === 3 ? 2 : unit]);
  }
  const gt = trains([0, 1, 2, 3], gtSpikes);
  const tested = trains([0, 1, 2], testedSpikes);
  const counts = countMatches(gt, tested, 10);
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 3; b++) {
      let expected = 0;
      for (const [t1, u1] of gtSpikes) {
        if (u1 !== a) continue;
        if (testedSpikes.some(([t2, u2]) => u2 === b && Math.abs(t1 - t2) <= 10)) expected++;
      }
      assert.equal(counts[a * 3 + b], expected, `pair ${a}, ${b}`);
    }
  }
});
