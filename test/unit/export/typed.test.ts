// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { as, int64From, uint64From } from '../../../coordinator/export/typed.js';

test('64-bit copies built from 32-bit halves hold the exact integers', () => {
  const big = 2 ** 40 + 3;
  assert.deepEqual(Array.from(uint64From([0, 1, 4294967296, big, Number.MAX_SAFE_INTEGER])), [
    0n,
    1n,
    4294967296n,
    BigInt(big),
    BigInt(Number.MAX_SAFE_INTEGER),
  ]);
  assert.deepEqual(Array.from(int64From([-1, -5, -(2 ** 33), 7])), [-1n, -5n, -(2n ** 33n), 7n]);
});

test('as() keeps an array of the right type and converts any other', () => {
  const f32 = new Float32Array([1.5]);
  assert.equal(as(Float32Array, f32), f32);
  const converted = as(Int8Array, new Int32Array([3, -2]));
  assert.ok(converted instanceof Int8Array);
  assert.deepEqual(Array.from(converted), [3, -2]);
});
