// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRounds, planBatches, statisticsWindows } from '../../../coordinator/plan/batch-plan.js';
import { ParameterError } from '../../../proto/errors.js';

test('batches tile the recording with half-open owned ranges and clipped halos', () => {
  const b = planBatches(250, 100, 10);
  assert.deepEqual(
    b.map((x) => [x.ownStart, x.ownEnd, x.readStart, x.readEnd]),
    [
      [0, 100, 0, 110],
      [100, 200, 90, 210],
      [200, 250, 190, 250],
    ],
  );
  for (let s = 0; s < 250; s++) assert.equal(b.filter((x) => s >= x.ownStart && s < x.ownEnd).length, 1);
});

test('an exact multiple leaves no empty last batch', () => {
  assert.equal(planBatches(300, 100, 10).length, 3);
});

test('a recording shorter than one batch is refused with both numbers', () => {
  assert.throws(
    () => planBatches(99, 100, 10),
    (e: unknown) => e instanceof ParameterError && /99 samples.*100 samples/.test(e.message),
  );
});

test('learning rounds cover the chosen batches once, deterministically', () => {
  const r1 = learningRounds(20, 0, 8, 42);
  const r2 = learningRounds(20, 0, 8, 42);
  assert.deepEqual(r1, r2);
  assert.deepEqual(
    r1.map((r) => r.length),
    [8, 8, 4],
  );
  assert.deepEqual(
    r1.flat().sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.notDeepEqual(learningRounds(20, 0, 8, 7), r1);
  const subset = learningRounds(100, 10, 4, 1)
    .flat()
    .sort((a, b) => a - b);
  assert.deepEqual(subset, [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]);
});

test('statistics windows span the recording', () => {
  assert.deepEqual(statisticsWindows(1000, 3, 100), [0, 450, 900]);
  assert.deepEqual(statisticsWindows(50, 3, 100), [0]);
});
