// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jacobiPseudoInverse, multiplyFloat32Rows, templatePeakToPeak } from '../../../native/lib/index.js';
import { jsMultiplyRows, jsPseudoInverse, jsTemplatePeakToPeak } from '../../helpers/js-export-linalg.js';
import { rng } from '../../helpers/uniform.js';

function assertSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

function randomMatrix(rows: number, cols: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => rand() - 0.5);
}

function product(a: Float64Array, b: Float64Array, n: number, m: number, p: number): Float64Array {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < m; k++) for (let j = 0; j < p; j++) out[i * p + j]! += a[i * m + k]! * b[k * p + j]!;
  return out;
}

test('the pseudo-inverse equals the former TypeScript one bit for bit, for any thread count', () => {
  const rand = rng(17);
  const cases: [string, Float64Array, number, number][] = [];
  cases.push(['random 40 × 40', randomMatrix(40, 40, rand), 40, 40]);
  cases.push(['rank 7 of 30 × 30', product(randomMatrix(30, 7, rand), randomMatrix(7, 30, rand), 30, 7, 30), 30, 30]);
  const zeros = randomMatrix(25, 25, rand);
  for (let c = 0; c < 25; c++) {
    zeros[3 * 25 + c] = 0;
    zeros[c * 25 + 11] = 0;
  }
  cases.push(['zero row and column', zeros, 25, 25]);
  cases.push(['tall 31 × 12', randomMatrix(31, 12, rand), 31, 12]);
  cases.push(['wide 9 × 23', randomMatrix(9, 23, rand), 9, 23]);
  // Symmetric, diagonally dominant and banded, with one channel scaled to nothing: a whitening matrix.
  const C = 48;
  const w = new Float64Array(C * C);
  for (let a = 0; a < C; a++) {
    for (let b = Math.max(0, a - 6); b < Math.min(C, a + 7); b++)
      w[a * C + b] = a === b ? 0.1 + 0.02 * rand() : -0.004 * rand();
  }
  for (let a = 0; a < C; a++) for (let b = 0; b < a; b++) w[a * C + b] = w[b * C + a]!;
  for (let c = 0; c < C; c++) {
    w[7 * C + c] = w[7 * C + c]! * 1e-19;
    w[c * C + 7] = w[c * C + 7]! * 1e-19;
  }
  cases.push(['whitening-like 48 × 48', w, C, C]);
  // From 64 columns on, threads take the rows of a sweep in lockstep.
  const big = randomMatrix(96, 96, rand);
  for (let c = 0; c < 96; c++) big[c * 96 + 40] = 0;
  cases.push(['random 96 × 96 with a zero column', big, 96, 96]);
  cases.push([
    'rank 20 of 70 × 80',
    product(randomMatrix(70, 20, rand), randomMatrix(20, 80, rand), 70, 20, 80),
    70,
    80,
  ]);
  for (const [name, a, rows, cols] of cases) {
    const want = jsPseudoInverse(a, rows, cols);
    for (const threads of [1, 3, 8]) {
      const got = jacobiPseudoInverse(a, rows, cols, undefined, threads);
      assertSameBits(got.inverse, want.inverse, `${name}, ${threads} threads: inverse`);
      assertSameBits(got.singularValues, want.singularValues, `${name}: singular values`);
      assert.equal(got.rank, want.rank, `${name}: rank`);
      assert.ok(Object.is(got.tolerance, want.tolerance), `${name}: tolerance`);
    }
  }
  const ranked = cases[1]!;
  const loose = jacobiPseudoInverse(ranked[1], 30, 30, 1e-3);
  const wantLoose = jsPseudoInverse(ranked[1], 30, 30, 1e-3);
  assertSameBits(loose.inverse, wantLoose.inverse, 'rcond 1e-3');
  assert.equal(loose.tolerance, wantLoose.tolerance);
});

test('the pseudo-inverse refuses a wrong length, a non-finite entry and a negative rcond', () => {
  assert.throws(() => jacobiPseudoInverse(new Float64Array(5), 2, 3), RangeError);
  assert.throws(() => jacobiPseudoInverse(Float64Array.from([1, NaN, 0, 1]), 2, 2), /a\[0, 1\].*finite/);
  assert.throws(() => jacobiPseudoInverse(Float64Array.from([1, 0, 0, Infinity]), 2, 2), RangeError);
  assert.throws(() => jacobiPseudoInverse(Float64Array.from([1, 0, 0, 1]), 2, 2, -1), RangeError);
  const empty = jacobiPseudoInverse(new Float64Array(0), 0, 4);
  assert.equal(empty.inverse.length, 0);
  assert.equal(empty.rank, 0);
});

test('multiplyFloat32Rows equals the former TypeScript product bit for bit, ±0, NaN and ∞ included', () => {
  const rand = rng(5);
  const rows = 4 * 13 + 3;
  const n = 17;
  const a = new Float32Array(rows * n);
  // Each row on a few columns (a template's channels), the group of rows 8 … 11 all zero.
  for (let r = 0; r < rows; r++) {
    if (r >= 8 && r < 12) continue;
    for (let k = 0; k < n; k++) if (Math.abs(k - (r % n)) < 3) a[r * n + k] = rand() - 0.5;
  }
  a[1 * n + 1] = -0;
  a[20 * n + 4] = NaN;
  a[54 * n + 16] = Infinity;
  const b = randomMatrix(n, n, rand);
  b[3] = -0;
  for (const threads of [1, 2, 7]) {
    assertSameBits(multiplyFloat32Rows(a, b, rows, n, threads), jsMultiplyRows(a, b, rows, n), `${threads} threads`);
  }
  // A non-finite b: the terms of zero a values in a group with a non-zero one are NaN, as in the
  // TypeScript loop (the skip is per group of four rows, not per row).
  const bad = Float64Array.from(b);
  bad[2 * n + 5] = Infinity;
  bad[6 * n + 1] = NaN;
  assertSameBits(multiplyFloat32Rows(a, bad, rows, n), jsMultiplyRows(a, bad, rows, n), 'non-finite b');
  assert.throws(() => multiplyFloat32Rows(a, b, rows, n + 1), RangeError);
  assert.throws(() => multiplyFloat32Rows(Float64Array.from(a) as unknown as Float32Array, b, rows, n), TypeError);
});

test('multiplyFloat32Rows: a small exact product', () => {
  // [[1, 2], [0, 0], [3, -1]] · [[1, 1], [2, -1]]
  const got = multiplyFloat32Rows(Float32Array.from([1, 2, 0, 0, 3, -1]), Float64Array.from([1, 1, 2, -1]), 3, 2);
  assertSameBits(got, [5, -1, 0, 0, 1, 4], 'product');
});

test('templatePeakToPeak equals the former TypeScript loops bit for bit, NaN and ties included', () => {
  const rand = rng(8);
  const T = 9;
  const nt0 = 11;
  const C = 13;
  const wf = Float32Array.from({ length: T * nt0 * C }, () => rand() - 0.5);
  const un = Float64Array.from({ length: T * nt0 * C }, () => 30 * (rand() - 0.5));
  const uv = Float64Array.from({ length: C }, () => 2 + rand());
  // Template 1: all zero (every p2p 0: channel 0, +0 amplitudes); template 2: two equal channels;
  // template 3: a NaN sample and an all-NaN channel; template 4: an infinite sample.
  for (let i = 0; i < nt0 * C; i++) {
    wf[nt0 * C + i] = 0;
    un[nt0 * C + i] = 0;
  }
  for (let i = 0; i < nt0; i++) {
    wf[(2 * nt0 + i) * C + 4]! *= 40;
    wf[(2 * nt0 + i) * C + 9] = wf[(2 * nt0 + i) * C + 4]!;
  }
  wf[(3 * nt0 + 2) * C + 5] = NaN;
  for (let i = 0; i < nt0; i++) {
    wf[(3 * nt0 + i) * C + 6] = NaN;
    un[(3 * nt0 + i) * C + 6] = NaN;
  }
  un[(4 * nt0 + 3) * C + 2] = Infinity;
  const want = jsTemplatePeakToPeak(wf, un, uv, T, nt0, C);
  assert.equal(want.peakChannels[2], 4);
  for (const threads of [1, 4]) {
    const got = templatePeakToPeak(wf, un, uv, T, nt0, C, threads);
    assertSameBits(got.p2pCounts, want.p2pCounts, 'p2pCounts');
    assertSameBits(got.p2pVolts, want.p2pVolts, 'p2pVolts');
    assertSameBits(got.peakChannels, want.peakChannels, 'peakChannels');
  }
  assert.throws(() => templatePeakToPeak(wf, un, new Float64Array(C - 1), T, nt0, C), RangeError);
});
