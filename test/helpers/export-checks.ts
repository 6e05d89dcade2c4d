// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Independent re-computations for the export tests: they use Gauss–Jordan elimination and plain
 * loops, not the writers' SVD and helpers, so a wrong writer cannot agree with itself.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { readNpy, toFloat64, type NpyArray, type NpyDtype } from '../../coordinator/formats/npy.js';
import type { SortingResult } from '../../coordinator/formats/sorting-result.js';

/** Inverse of a well-conditioned (n, n) row-major matrix by Gauss–Jordan with partial pivoting. */
export function invertMatrix(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[pivot * n + col]!)) pivot = r;
    for (let k = 0; k < n; k++) {
      [m[col * n + k], m[pivot * n + k]] = [m[pivot * n + k]!, m[col * n + k]!];
      [inv[col * n + k], inv[pivot * n + k]] = [inv[pivot * n + k]!, inv[col * n + k]!];
    }
    const d = m[col * n + col]!;
    for (let k = 0; k < n; k++) {
      m[col * n + k]! /= d;
      inv[col * n + k]! /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col]!;
      for (let k = 0; k < n; k++) {
        m[r * n + k]! -= f * m[col * n + k]!;
        inv[r * n + k]! -= f * inv[col * n + k]!;
      }
    }
  }
  return inv;
}

/** Sample i, channel c of template t brought back to counts with `winv`. */
export function unwhitenedSample(result: SortingResult, winv: Float64Array, t: number, i: number, c: number): number {
  const C = result.probe.channelMap.length;
  let v = 0;
  for (let k = 0; k < C; k++) v += result.templates.waveforms[(t * result.nt0 + i) * C + k]! * winv[k * C + c]!;
  return v;
}

/** Per-channel peak-to-peak of template t, unwhitened with `winv` (or whitened when `winv` is null). */
export function channelPeakToPeak(result: SortingResult, winv: Float64Array | null, t: number): number[] {
  const C = result.probe.channelMap.length;
  return Array.from({ length: C }, (_, c) => {
    const values = Array.from({ length: result.nt0 }, (_, i) =>
      winv === null
        ? result.templates.waveforms[(t * result.nt0 + i) * C + c]!
        : unwhitenedSample(result, winv, t, i, c),
    );
    return Math.max(...values) - Math.min(...values);
  });
}

/** Reads `dir/name` and checks its dtype and shape. */
export function loadChecked(dir: string, name: string, dtype: NpyDtype, shape: number[]): NpyArray {
  const arr = readNpy(path.join(dir, name));
  assert.equal(arr.dtype, dtype, `${name} dtype`);
  assert.deepEqual(arr.shape, shape, `${name} shape`);
  return arr;
}

/** Reads `dir/name`, checks its dtype and shape, and returns its elements as numbers. */
export function loadValues(dir: string, name: string, dtype: NpyDtype, shape: number[]): number[] {
  return Array.from(toFloat64(loadChecked(dir, name, dtype, shape)));
}

/** Asserts |a − b| ≤ tol · max(1, |b|) element-wise. */
export function assertClose(actual: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, want.length, `${what} length`);
  for (let i = 0; i < want.length; i++) {
    const a = actual[i]!;
    const b = want[i]!;
    if (Number.isNaN(b)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: ${a}, expected NaN`);
      continue;
    }
    assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}[${i}]: ${a}, expected ${b}`);
  }
}
