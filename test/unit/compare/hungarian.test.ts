// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solveAssignment } from '../../../coordinator/compare/index.js';

function total(cost: number[], nCols: number, assignment: Int32Array): number {
  let sum = 0;
  assignment.forEach((c, r) => {
    if (c >= 0) sum += cost[r * nCols + c]!;
  });
  return sum;
}

/** The least total over every assignment of min(r, c) pairs, by trying them all. */
function bruteForce(cost: number[], nRows: number, nCols: number): number {
  let best = Infinity;
  const usedCols = new Array<boolean>(nCols).fill(false);
  const need = Math.min(nRows, nCols);
  const visit = (row: number, placed: number, sum: number): void => {
    if (placed === need) {
      best = Math.min(best, sum);
      return;
    }
    if (nRows - row < need - placed) return;
    if (nRows > nCols) visit(row + 1, placed, sum); // leave this row out
    for (let c = 0; c < nCols; c++) {
      if (usedCols[c]) continue;
      usedCols[c] = true;
      visit(row + 1, placed + 1, sum + cost[row * nCols + c]!);
      usedCols[c] = false;
    }
  };
  visit(0, 0, 0);
  return best;
}

function assertValid(assignment: Int32Array, nRows: number, nCols: number): void {
  const cols = [...assignment].filter((c) => c >= 0);
  assert.equal(cols.length, Math.min(nRows, nCols), 'every row or every column is assigned');
  assert.equal(new Set(cols).size, cols.length, 'no column is used twice');
  assert.ok(cols.every((c) => c < nCols));
}

test('a square case with a known optimum', () => {
  // Optimum 0→1, 1→0, 2→2: 1 + 2 + 2 = 5 (the diagonal costs 4 + 4 + 2 = 10).
  const cost = [4, 1, 3, 2, 4, 6, 3, 5, 2];
  const a = solveAssignment(Float64Array.from(cost), 3, 3);
  assert.deepEqual([...a], [1, 0, 2]);
  assert.equal(total(cost, 3, a), 5);
});

test('beats the greedy choice when the greedy choice is wrong', () => {
  // Greedy takes the smallest cost first (row 0 → col 0, cost 1) and is left with row 1 → col 1 (100):
  // 101. The optimum crosses over: row 0 → col 1 (2), row 1 → col 0 (3): 5.
  const cost = [1, 2, 3, 100];
  const a = solveAssignment(Float64Array.from(cost), 2, 2);
  assert.deepEqual([...a], [1, 0]);
  // The same as agreement scores to maximise (negated), as the comparison uses it.
  const scores = [0.9, 0.8, 0.85, 0];
  const b = solveAssignment(Float64Array.from(scores.map((s) => -s)), 2, 2);
  assert.deepEqual([...b], [1, 0]);
});

test('a three-by-three case where greedy is wrong', () => {
  // Greedy picks 0→0 (cost 0), then 1→1 (cost 5), then 2→2 (cost 9): 14. Optimum 0→1, 1→2, 2→0: 1 + 1 + 1 = 3.
  const cost = [0, 1, 9, 9, 5, 1, 1, 9, 9];
  const a = solveAssignment(Float64Array.from(cost), 3, 3);
  assert.deepEqual([...a], [1, 2, 0]);
});

test('rectangular: more columns than rows, and more rows than columns', () => {
  const wide = [5, 1, 7, 2, 2, 9, 3, 1];
  const a = solveAssignment(Float64Array.from(wide), 2, 4);
  assert.deepEqual([...a], [1, 3]);
  assert.equal(total(wide, 4, a), 2);
  // Transposed: 4 rows, 2 columns; rows 1 and 0 take the columns, the others get −1.
  const tall = [5, 2, 1, 2, 7, 3, 2, 1];
  const b = solveAssignment(Float64Array.from(tall), 4, 2);
  assert.deepEqual([...b], [-1, 0, -1, 1]);
  assert.equal(total(tall, 2, b), 2);
});

test('empty shapes', () => {
  assert.deepEqual([...solveAssignment(new Float64Array(0), 0, 3)], []);
  assert.deepEqual([...solveAssignment(new Float64Array(0), 2, 0)], [-1, -1]);
});

test('matches a brute-force search on random matrices (with ties)', () => {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let trial = 0; trial < 300; trial++) {
    const nRows = 1 + Math.floor(random() * 6);
    const nCols = 1 + Math.floor(random() * 6);
    // Small integers make ties common; negative scores thresholded to 0 mimic the comparison.
    const cost = Array.from({ length: nRows * nCols }, () =>
      trial % 2 === 0 ? Math.floor(random() * 4) : random() < 0.4 ? 0 : -random(),
    );
    const a = solveAssignment(Float64Array.from(cost), nRows, nCols);
    assertValid(a, nRows, nCols);
    const want = bruteForce(cost, nRows, nCols);
    assert.ok(Math.abs(total(cost, nCols, a) - want) < 1e-12, `trial ${trial}: ${total(cost, nCols, a)} vs ${want}`);
  }
});

test('bad input is refused', () => {
  assert.throws(() => solveAssignment(new Float64Array(3), 2, 2), RangeError);
  assert.throws(() => solveAssignment(Float64Array.from([0, Infinity]), 1, 2), /not finite/);
});
