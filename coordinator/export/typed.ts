// SPDX-License-Identifier: GPL-3.0-or-later
import type { NpyData } from '../formats/npy.js';

type TypedCtor<T extends NpyData> = { new (n: number): T; from(src: ArrayLike<number>): T };

/**
 * `data` as a `ctor` array: the array itself when it already is one (large spike arrays are not
 * copied), a converted copy otherwise. Fixes each file's dtype whatever array the result holds.
 */
export function as<T extends Exclude<NpyData, BigInt64Array | BigUint64Array>>(
  ctor: TypedCtor<T>,
  data: ArrayLike<number>,
): T {
  return data instanceof ctor ? data : ctor.from(data);
}

const TWO_32 = 4294967296;

function fill64(out: BigInt64Array | BigUint64Array, values: ArrayLike<number>): void {
  // Writes the two 32-bit halves: one BigInt per element is ~50× slower on millions of spikes.
  const halves = new Uint32Array(out.buffer, out.byteOffset, values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const hi = Math.floor(v / TWO_32);
    halves[2 * i] = v - hi * TWO_32;
    halves[2 * i + 1] = hi >>> 0;
  }
}

/** uint64 copy of non-negative safe integers (spike samples). */
export function uint64From(values: ArrayLike<number>): BigUint64Array {
  const out = new BigUint64Array(values.length);
  fill64(out, values);
  return out;
}

/** int64 copy of safe integers (channel indices). */
export function int64From(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  fill64(out, values);
  return out;
}
