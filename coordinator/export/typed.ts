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
