// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the export area of the native core (native/src/addon/export.cc). */

export interface ExportBinding {
  /**
   * [sync] Moore–Penrose pseudo-inverse of a (rows × cols, row-major) by a one-sided Jacobi SVD:
   * inverse (cols × rows), singular values descending (min(rows, cols)), the rank and the
   * tolerance (rcond · σ_max; rcond null: max(rows, cols) · 2⁻⁵²). `threads` (0: the default count)
   * does not change the bits. Throws TypeError on a wrong argument type, RangeError on a wrong
   * length or a non-finite entry, Error when the rotations do not converge.
   */
  exportPseudoInverse(
    a: Float64Array,
    rows: number,
    cols: number,
    rcond: number | null,
    threads: number,
  ): { inverse: Float64Array; singularValues: Float64Array; rank: number; tolerance: number };
  /**
   * [sync] (rows × n) = a (rows × n) · b (n × n), row-major, each value summed in ascending k from
   * +0 (rows in groups of four; the k where all four a values are 0 left out). `threads` does not
   * change the bits. Throws TypeError / RangeError on wrong arguments.
   */
  exportMultiplyRows(a: Float32Array, b: Float64Array, rows: number, n: number, threads: number): Float64Array;
  /**
   * [sync] Per template of (templates × nt0 × channels): the peak channel (largest peak-to-peak of
   * `whitened`, first on ties), the largest peak-to-peak of `unwhitened` and of it × uvPerCount ×
   * 1e-6 (maxima as Math.max takes them, from +0). Throws TypeError / RangeError on wrong arguments.
   */
  exportTemplatePeakToPeak(
    whitened: Float32Array,
    unwhitened: Float64Array,
    uvPerCount: Float64Array,
    templates: number,
    nt0: number,
    channels: number,
    threads: number,
  ): { p2pCounts: Float64Array; p2pVolts: Float64Array; peakChannels: Int32Array };
}
