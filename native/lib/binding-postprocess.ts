// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the post-processing area of the native core (native/src/addon/postprocess.cc). */

export interface PostprocessBinding {
  /**
   * [sync] Weighted Gram matrix of the rows of x (n × dims): gram[c][d] = Σ_i (x[i][c]·w[i])·x[i][d]
   * (w null: Σ_i x[i][c]·x[i][d]) and, when t is given, rhs[c] = Σ_i x[i][c]·t[i], each summed
   * in spike order. `threads` (0 or absent: the default count) does not change the bits. Throws
   * TypeError on a wrong argument type, RangeError on a wrong length.
   */
  postprocessWeightedGram(
    x: Float64Array,
    n: number,
    dims: number,
    w: Float64Array | null,
    t: Float64Array | null,
    threads?: number,
  ): { gram: Float64Array; rhs: Float64Array | null };
  /**
   * [sync] Running mean along the rows of x (n × dims): three box passes over rows i − half … i +
   * half, renormalised at the ends. Throws TypeError / RangeError on wrong arguments.
   */
  postprocessRunningMean(x: Float64Array, n: number, dims: number, half: number, threads?: number): Float64Array;
  /** [sync] out[i] = Σ_d x[i][d]·w[d] in ascending d. Throws TypeError / RangeError on wrong arguments. */
  postprocessProject(x: Float64Array, n: number, dims: number, w: Float64Array, threads?: number): Float64Array;
  /**
   * [sync] Solves a·x = b (n × n, row-major) by Gaussian elimination with partial pivoting. Throws
   * RangeError for a singular matrix or wrong lengths, TypeError for wrong argument types.
   */
  postprocessSolveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array;
  /**
   * [sync] The splits' bimodal pursuit of the rows of x (n × dims): which spikes the first of two
   * Gaussians takes, and each half's mean responsibility. Throws TypeError / RangeError on wrong
   * arguments, RangeError for a singular refit system.
   */
  postprocessBimodalPursuit(x: Float64Array, n: number, dims: number, threads?: number): BimodalFitRaw;
  /**
   * [async, own thread] The features of `members` (indices into rows/templates) on the channels of
   * template `reference` (rows: n × nPc·k float32, each on its own template's channels;
   * pcFeatureInd: T × k), their pursuit after the running-mean detrend (half width `half`) and the
   * mean feature row of each half. The arrays are only read and must stay attached until the
   * promise settles. Throws TypeError / RangeError on wrong arguments; the promise rejects with
   * RangeError for a member or template out of range or a singular refit system.
   */
  postprocessSplitPursuit(
    rows: Float32Array,
    templates: Uint32Array,
    members: Int32Array,
    pcFeatureInd: Uint32Array,
    nPc: number,
    k: number,
    reference: number,
    half: number,
    threads?: number,
  ): Promise<BimodalFitRaw & { meanFirst: Float64Array; meanSecond: Float64Array }>;
}

/** What the pursuit returns: inFirst (n) is 1 for the first Gaussian's spikes. */
export interface BimodalFitRaw {
  inFirst: Uint8Array;
  confidenceFirst: number;
  confidenceSecond: number;
}
