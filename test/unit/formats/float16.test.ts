// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16Bits, float16FromFloat32, float16Value, toFloat16 } from '../../../coordinator/formats/float16.js';
import { decodeNpy, encodeNpy, toFloat64 } from '../../../coordinator/formats/npy.js';
import { hasNumpy, python } from '../../helpers/python.js';

test('float16: bit patterns of known values, rounding to nearest even, overflow, subnormals, NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // rounds down
    [65520, 0x7c00], // ties to even → Infinity
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie → even (0)
    [3 * 2 ** -25, 0x0002], // tie → even (2)
    [1 + 2 ** -11, 0x3c00], // tie → even
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
    [1e-4, 0x068e], // 1e-4 V, a spike-sized value
  ];
  for (const [v, bits] of cases) assert.equal(float16Bits(v), bits, `float16(${v})`);
  assert.equal(float16Bits(NaN), 0x7e00);
  assert.ok(Number.isNaN(float16Value(0x7e00)));
  // Every pattern survives a round trip through its value.
  for (let b = 0; b < 0x10000; b++) {
    if ((b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0) continue; // NaNs
    assert.equal(float16Bits(float16Value(b)), b);
  }
});

test('npy <f2 files hold the bit patterns and read back as numbers', () => {
  const values = [0.25, -1.5e-5, 100];
  const bytes = encodeNpy(toFloat16(values), [3], '<f2');
  assert.match(bytes.toString('latin1', 10, 60), /'descr': '<f2'/);
  const back = decodeNpy(bytes);
  assert.equal(back.dtype, '<f2');
  const numbers = toFloat64(back);
  // Within half a unit in the last place: 2^-11 relative, 2^-25 absolute among subnormals.
  values.forEach((v, i) => assert.ok(Math.abs(numbers[i]! - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v}`));
});

test('float16 agrees with numpy on float32 values', { skip: !hasNumpy() && 'no numpy' }, () => {
  const values = Array.from({ length: 2000 }, (_, i) => Math.fround(Math.sin(i * 12.9898) * 10 ** ((i % 14) - 8)));
  const out = python(
    `import json, numpy as np\nv = np.array(${JSON.stringify(values)}, dtype=np.float32)\nprint(json.dumps(v.astype(np.float16).view(np.uint16).tolist()))`,
  );
  assert.deepEqual(Array.from(toFloat16(values)), JSON.parse(out) as number[]);
});

test('float16FromFloat32 gives float16Bits of every float32, subnormals, NaN and infinities included', () => {
  const src = new Float32Array(5000);
  const bits = new Uint32Array(src.buffer);
  let seed = 11;
  for (let i = 0; i < bits.length; i++) bits[i] = seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  src.set([0, -0, 65520, -65519, 2 ** -25, 3 * 2 ** -25, NaN, Infinity, -Infinity, 1e-4]);
  const out = new Uint16Array(src.length);
  float16FromFloat32(src, out);
  src.forEach((v, i) => assert.equal(out[i], float16Bits(v), `float16(${v})`));
  assert.throws(() => float16FromFloat32(src, new Uint16Array(3)), RangeError);
});
