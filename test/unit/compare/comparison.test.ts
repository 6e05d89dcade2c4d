// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareSortings,
  snrBins,
  summarise,
  unitPerformance,
  type Comparison,
} from '../../../coordinator/compare/index.js';
import { ParameterError } from '../../../proto/errors.js';
import { regular, trains, type Spikes } from './fixtures.js';

const FS = 30000;

function score(c: Comparison, gtId: number, testedId: number): number {
  const a = c.gt.unitIds.indexOf(gtId);
  const b = c.tested.unitIds.indexOf(testedId);
  return c.agreement[a * c.tested.unitIds.length + b]!;
}

function matchOf(c: Comparison, gtId: number): number | null {
  const b = c.hungarian12[c.gt.unitIds.indexOf(gtId)]!;
  return b < 0 ? null : c.tested.unitIds[b]!;
}

function categoryOf(c: Comparison, testedId: number) {
  return c.categories[c.tested.unitIds.indexOf(testedId)]!;
}

test('identical sortings: every unit well detected with accuracy 1', () => {
  const spikes: Spikes = [...regular(0, 100, 20), ...regular(1, 350, 15), ...regular(2, 600, 30)];
  const relabelled: Spikes = spikes.map(([t, u]) => [t, u + 10]);
  const c = compareSortings(trains([0, 1, 2], spikes), trains([10, 11, 12], relabelled), FS);
  assert.equal(c.deltaFrames, 12);
  for (const [gt, tested] of [
    [0, 10],
    [1, 11],
    [2, 12],
  ] as const) {
    assert.equal(matchOf(c, gt), tested);
    assert.equal(score(c, gt, tested), 1);
  }
  for (const p of c.performance) {
    assert.deepEqual(p, {
      ...p,
      fn: 0,
      fp: 0,
      accuracy: 1,
      recall: 1,
      precision: 1,
      falseDiscoveryRate: 0,
      missRate: 0,
    });
  }
  assert.ok(c.categories.every((x) => x.wellDetected && !x.bad && !x.falsePositive && !x.redundant && !x.overmerged));
});

test('counts and rates of a partly detected unit', () => {
  // 20 GT spikes; the tested unit finds 15 of them and adds 5 of its own.
  const gt = regular(0, 100, 20);
  const tested: Spikes = [...gt.slice(0, 15).map(([t]) => [t + 3, 7] as [number, number]), ...regular(7, 500, 5)];
  const c = compareSortings(trains([0], gt), trains([7], tested), FS);
  assert.equal(score(c, 0, 7), 15 / 25);
  assert.deepEqual(c.performance[0], {
    tp: 15,
    fn: 5,
    fp: 5,
    accuracy: 15 / 25,
    recall: 15 / 20,
    precision: 15 / 20,
    falseDiscoveryRate: 5 / 20,
    missRate: 5 / 20,
  });
  assert.equal(categoryOf(c, 7).wellDetected, false);
  assert.equal(categoryOf(c, 7).bad, false);
});

test('a tested unit merging two ground-truth units is overmerged, matched to the larger', () => {
  // GT 0: 12 spikes, GT 1: 8 spikes; tested 5 = both. A(0,5) = 12/20 = 0.6, A(1,5) = 8/20 = 0.4.
  const gt0 = regular(0, 100, 12);
  const gt1 = regular(1, 600, 8);
  const merged: Spikes = [...gt0, ...gt1].map(([t]) => [t, 5]);
  const c = compareSortings(trains([0, 1], [...gt0, ...gt1]), trains([5], merged), FS);
  assert.equal(score(c, 0, 5), 0.6);
  assert.equal(score(c, 1, 5), 0.4);
  assert.equal(matchOf(c, 0), 5);
  assert.equal(matchOf(c, 1), null);
  assert.deepEqual(categoryOf(c, 5), {
    wellDetected: false,
    falsePositive: false,
    redundant: false,
    overmerged: true,
    bad: false,
  });
  // The unmatched GT unit scores 0 everywhere, as SpikeInterface's by-unit performance.
  assert.deepEqual(c.performance[1], unitPerformance(0, 8, 0, 8));
  assert.equal(c.performance[1].accuracy, 0);
});

test('a ground-truth unit split in two: the larger part matched, the smaller redundant', () => {
  // GT 0 has 20 spikes; tested 1 holds 14 of them (A = 0.7), tested 2 the other 6 (A = 0.3).
  const gt = regular(0, 100, 20);
  const part1: Spikes = gt.slice(0, 14).map(([t]) => [t, 1]);
  const part2: Spikes = gt.slice(14).map(([t]) => [t, 2]);
  const c = compareSortings(trains([0], gt), trains([1, 2], [...part1, ...part2]), FS);
  assert.equal(matchOf(c, 0), 1);
  assert.equal(score(c, 0, 2), 0.3);
  assert.deepEqual(categoryOf(c, 2), {
    wellDetected: false,
    falsePositive: false,
    redundant: true,
    overmerged: false,
    bad: true,
  });
  assert.equal(categoryOf(c, 1).redundant, false);
});

test('a pure-noise tested unit is a false positive; a weakly matching one too', () => {
  const gt = regular(0, 100, 20);
  const noise = regular(3, 450, 10); // never within 12 samples of a GT spike
  // Tested 4 holds 2 GT spikes among 20: A = 2/38 ≈ 0.053 < chance 0.1, so no best match at all.
  const weak: Spikes = [...gt.slice(0, 2).map(([t]) => [t, 4] as [number, number]), ...regular(4, 700, 18)];
  // Tested 6 holds 4 GT spikes among 10: A = 4/26 ≈ 0.154, a best match, but below redundant 0.2.
  const faint: Spikes = [...gt.slice(4, 8).map(([t]) => [t, 6] as [number, number]), ...regular(6, 800, 6)];
  const c = compareSortings(trains([0], gt), trains([3, 4, 6], [...noise, ...weak, ...faint]), FS);
  assert.equal(c.best21[c.tested.unitIds.indexOf(4)], -1);
  assert.equal(c.best21[c.tested.unitIds.indexOf(6)], 0);
  for (const id of [3, 4, 6]) {
    assert.deepEqual(categoryOf(c, id), {
      wellDetected: false,
      falsePositive: true,
      redundant: false,
      overmerged: false,
      bad: true,
    });
  }
  assert.equal(matchOf(c, 0), null);
});

test('the one-to-one match maximises total agreement where greedy best matches would not', () => {
  // GT 1 has 10 spikes S1; GT 0 = 6 spikes U0 of its own + 3 of S1's times (P).
  // Tested 10 = S1 ∪ U0 (16 spikes): A(1,10) = 10/16 = 0.625, A(0,10) = 9/16 = 0.5625.
  // Tested 11 = the 6 S1 spikes outside P (6 spikes): A(1,11) = 0.6, A(0,11) = 0.
  // Both GT units' best match is tested 10 (greedy: GT 1 → 10, GT 0 left unmatched, total 0.625);
  // the assignment gives GT 0 → 10 and GT 1 → 11 (total 1.1625).
  const s1 = regular(1, 1000, 10);
  const u0 = regular(0, 1500, 6);
  const p: Spikes = s1.slice(0, 3).map(([t]) => [t, 0]);
  const t10: Spikes = [...s1, ...u0].map(([t]) => [t, 10]);
  const t11: Spikes = s1.slice(4).map(([t]) => [t, 11]);
  const c = compareSortings(trains([0, 1], [...s1, ...u0, ...p]), trains([10, 11], [...t10, ...t11]), FS);
  assert.equal(score(c, 1, 10), 0.625);
  assert.equal(score(c, 0, 10), 0.5625);
  assert.equal(score(c, 1, 11), 0.6);
  assert.equal(score(c, 0, 11), 0);
  assert.equal(c.tested.unitIds[c.best12[c.gt.unitIds.indexOf(0)]!], 10);
  assert.equal(c.tested.unitIds[c.best12[c.gt.unitIds.indexOf(1)]!], 10);
  assert.equal(matchOf(c, 0), 10);
  assert.equal(matchOf(c, 1), 11);
});

test('a pair below match_score is never matched, even when nothing else competes', () => {
  const gt = regular(0, 100, 10);
  const tested: Spikes = gt.slice(0, 4).map(([t]) => [t, 1]); // A = 0.4
  const c = compareSortings(trains([0], gt), trains([1], tested), FS);
  assert.equal(matchOf(c, 0), null);
  assert.equal(c.best12[0], 0); // but it is the best match (≥ chance)
  // Lowering match_score to 0.4 matches it (≥ is inclusive).
  assert.equal(matchOf(compareSortings(trains([0], gt), trains([1], tested), FS, { matchScore: 0.4 }), 0), 1);
});

test('SNR bins split the ground-truth units and average their metrics', () => {
  // Five GT units with SNRs 3, 5, 7.9, 8, 12; units 1 (snr 5) and 3 (snr 8) found perfectly,
  // unit 4 (snr 12) half found.
  const snr = [3, 5, 7.9, 8, 12];
  const gtSpikes: Spikes = snr.flatMap((_, u) => regular(u, 100 + 100 * u, 10));
  const testedSpikes: Spikes = [
    ...regular(1, 200, 10).map(([t]) => [t, 21] as [number, number]),
    ...regular(3, 400, 10).map(([t]) => [t, 23] as [number, number]),
    ...regular(4, 500, 5).map(([t]) => [t, 24] as [number, number]),
  ];
  const c = compareSortings(trains([0, 1, 2, 3, 4], gtSpikes), trains([21, 23, 24], testedSpikes), FS);
  const bins = snrBins([5, 8]);
  assert.deepEqual(
    bins.map((b) => b.label),
    ['SNR < 5', '5 ≤ SNR < 8', 'SNR ≥ 8'],
  );
  const s = summarise(c, snr, bins);
  assert.equal(s.all.nGtUnits, 5);
  assert.equal(s.all.nWellDetected, 2);
  assert.equal(s.all.meanAccuracy, (1 + 1 + 0.5) / 5);
  assert.deepEqual(
    s.bySnr.map((b) => [b.nGtUnits, b.nWellDetected, b.meanAccuracy, b.meanRecall, b.meanPrecision]),
    [
      [1, 0, 0, 0, 0],
      [2, 1, 0.5, 0.5, 0.5],
      [2, 1, 0.75, 0.75, 1],
    ],
  );
  assert.deepEqual(s.tested, {
    nTestedUnits: 3,
    nWellDetected: 2,
    nFalsePositive: 0,
    nRedundant: 0,
    nOvermerged: 0,
    nBad: 0,
  });
  // Other edges, and a bin with no units reports null means.
  const other = summarise(c, snr, snrBins([100]));
  assert.deepEqual(
    other.bySnr.map((b) => [b.label, b.nGtUnits, b.meanAccuracy]),
    [
      ['SNR < 100', 5, 0.5],
      ['SNR ≥ 100', 0, null],
    ],
  );
  assert.throws(() => snrBins([8, 5]), ParameterError);
});

test('thresholds outside [0, 1] are refused', () => {
  const t = trains([0], regular(0, 100, 2));
  assert.throws(() => compareSortings(t, t, FS, { matchScore: 1.5 }), ParameterError);
  assert.throws(() => compareSortings(t, t, FS, { deltaMs: -1 }), ParameterError);
});
