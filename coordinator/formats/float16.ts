// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * IEEE 754 binary16 ("half", numpy's float16) as raw 16-bit patterns in a Uint16Array: Node 20 has
 * no Float16Array. Conversion from float32 rounds to nearest, ties to even, as numpy's
 * `astype(np.float16)` does; overflow gives ±Infinity, NaN stays NaN.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bit pattern nearest to `value` (first rounded to float32, as from a Float32Array). */
export function float16Bits(value: number): number {
  f32[0] = value;
  return halfOfSingle(u32[0]!);
}

/** The binary16 pattern nearest to the binary32 value with bit pattern `x`. */
function halfOfSingle(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the value is M · 2^(e − 14 − 24 + 24) with M the 24-bit significand, so the
    // half's integer significand is M >> (14 − e), rounded.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const tie = 1 << (shift - 1);
    if (rest > tie || (rest === tie && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the significand moves into the exponent, which is the correct result (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** The number a binary16 bit pattern stands for. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Writes the binary16 pattern of each of `src` to `dst` (same length), as float16Bits would; reads
 * the float32 bit patterns directly, about 3× faster than converting value by value.
 */
export function float16FromFloat32(src: Float32Array, dst: Uint16Array): void {
  if (dst.length !== src.length)
    throw new RangeError(`float16FromFloat32: ${dst.length} outputs for ${src.length} values`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = halfOfSingle(bits[i]!);
}

/** binary16 patterns of every value (npy dtype `<f2`). */
export function toFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = float16Bits(values[i]!);
  return out;
}
