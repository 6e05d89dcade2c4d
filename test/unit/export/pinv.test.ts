// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pseudoInverse } from '../../../coordinator/export/pinv.js';
import { jsPseudoInverse } from '../../helpers/js-export-linalg.js';
import { hasNumpy, python } from '../../helpers/python.js';
import { makeSortingFixture, seededRandom } from '../../helpers/sorting-fixture.js';

function matmul(a: Float64Array, b: Float64Array, n: number, m: number, p: number): Float64Array {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      const x = a[i * m + k]!;
      for (let j = 0; j < p; j++) out[i * p + j]! += x * b[k * p + j]!;
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: rows * cols }, () => rand() - 0.5);
}

test('a diagonal matrix inverts to the reciprocals, zero stays zero', () => {
  const a = Float64Array.from([2, 0, 0, 0, 0, 0, 0, 0, -4]);
  const { inverse, rank, singularValues } = pseudoInverse(a, 3, 3);
  assert.deepEqual(Array.from(inverse), [0.5, 0, 0, 0, 0, 0, 0, 0, -0.25]);
  assert.equal(rank, 2);
  assert.deepEqual(Array.from(singularValues), [4, 2, 0]);
});

test('a well-conditioned square matrix: A·A⁺ = I', () => {
  const n = 12;
  const a = randomMatrix(n, n, 3);
  for (let i = 0; i < n; i++) a[i * n + i]! += 3;
  const { inverse, rank } = pseudoInverse(a, n, n);
  assert.equal(rank, n);
  const eye = Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0));
  assert.ok(maxAbsDiff(matmul(a, inverse, n, n, n), eye) < 1e-13);
  assert.ok(maxAbsDiff(matmul(inverse, a, n, n, n), eye) < 1e-13);
});

test('a rank-deficient rectangular matrix satisfies the four Penrose conditions', () => {
  // (6, 4) of rank 2: a product of (6, 2) and (2, 4).
  const a = matmul(randomMatrix(6, 2, 5), randomMatrix(2, 4, 6), 6, 2, 4);
  const { inverse: x, rank } = pseudoInverse(a, 6, 4);
  assert.equal(rank, 2);
  const ax = matmul(a, x, 6, 4, 6);
  const xa = matmul(x, a, 4, 6, 4);
  assert.ok(maxAbsDiff(matmul(ax, a, 6, 6, 4), a) < 1e-14);
  assert.ok(maxAbsDiff(matmul(xa, x, 4, 4, 6), x) < 1e-12);
  const transpose = (m: Float64Array, r: number, c: number): Float64Array =>
    Float64Array.from({ length: r * c }, (_, k) => m[(k % r) * c + Math.floor(k / r)]!);
  assert.ok(maxAbsDiff(ax, transpose(ax, 6, 6)) < 1e-13);
  assert.ok(maxAbsDiff(xa, transpose(xa, 4, 4)) < 1e-13);
});

test('a whitening matrix with an out-of-brain channel near zero: W·W⁺ ≈ I on the good channels', () => {
  const result = makeSortingFixture();
  const C = result.probe.channelMap.length;
  const w = Float64Array.from(result.whitening);
  const bad = 5;
  for (let c = 0; c < C; c++) {
    w[bad * C + c] = w[bad * C + c]! * 1e-19;
    w[c * C + bad] = w[c * C + bad]! * 1e-19;
  }
  const { inverse, rank } = pseudoInverse(w, C, C);
  assert.equal(rank, C - 1);
  const product = matmul(w, inverse, C, C, C);
  for (let a = 0; a < C; a++) {
    for (let b = 0; b < C; b++) {
      if (a === bad || b === bad) {
        // The null direction is dropped instead of being amplified by ~1e19.
        assert.ok(Math.abs(inverse[a * C + b]!) < 1e-6, `inverse[${a}, ${b}] = ${inverse[a * C + b]}`);
        continue;
      }
      assert.ok(
        Math.abs(product[a * C + b]! - (a === b ? 1 : 0)) < 1e-12,
        `(W·W⁺)[${a}, ${b}] = ${product[a * C + b]}`,
      );
    }
  }
});

test('a wide matrix: A·A⁺ = I on its row space', () => {
  const a = randomMatrix(3, 7, 11);
  const { inverse, rank } = pseudoInverse(a, 3, 7);
  assert.equal(rank, 3);
  const eye = Float64Array.from({ length: 9 }, (_, k) => (k % 4 === 0 ? 1 : 0));
  assert.ok(maxAbsDiff(matmul(a, inverse, 3, 7, 3), eye) < 1e-13);
});

test('a wrong length is refused', () => {
  assert.throws(() => pseudoInverse(new Float64Array(5), 2, 3), RangeError);
});

test('agrees with numpy.linalg.pinv', { skip: !hasNumpy() && 'python3 with numpy not available' }, () => {
  const a = matmul(randomMatrix(7, 3, 9), randomMatrix(3, 5, 10), 7, 3, 5);
  const ours = pseudoInverse(a, 7, 5).inverse;
  const theirs = JSON.parse(
    python(
      `import numpy as np, json; a=np.array(${JSON.stringify(Array.from(a))}).reshape(7,5); print(json.dumps(np.linalg.pinv(a).ravel().tolist()))`,
    ),
  ) as number[];
  assert.ok(maxAbsDiff(ours, theirs) < 1e-12);
});

test('the whitening matrix inverse is the former TypeScript one, bit for bit', () => {
  const result = makeSortingFixture({ nChannels: 40, seed: 4 });
  const C = result.probe.channelMap.length;
  const got = pseudoInverse(result.whitening, C, C);
  const want = jsPseudoInverse(result.whitening, C, C);
  for (let i = 0; i < C * C; i++) assert.ok(Object.is(got.inverse[i], want.inverse[i]), `inverse[${i}]`);
  assert.deepEqual(Array.from(got.singularValues), Array.from(want.singularValues));
  assert.equal(got.rank, want.rank);
  assert.equal(got.tolerance, want.tolerance);
});
