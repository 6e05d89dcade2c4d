// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw bindings of the preprocess area of the native core (native/src/addon/preprocess.cc).
 *
 * Every function is [sync]: it runs on the calling thread (using the core's worker threads
 * inside) and blocks the event loop until done; a full batch (67 648 × 384) takes on the order
 * of a second on two cores. Each takes one object with every field present (optional means
 * `null`, never `undefined`). Blocks are sample-major: `data[t * rowStride + c]`.
 *
 * Throws TypeError when a field is missing or of the wrong type, RangeError when a size or value
 * is wrong (including shapes the core rejects), Error for other core failures (e.g. a singular
 * matrix in invertMatrix).
 */

export interface NativeHighpassArgs {
  order: number;
  cutoffHz: number;
  sampleRateHz: number;
}

export interface NativeBlockArgs<Data> {
  data: Data;
  nSamples: number;
  nChannels: number;
  /** Values per sample row, ≥ nChannels; channels 0..nChannels−1 are used. */
  rowStride: number;
  /** Per-channel factor applied to every value (e.g. µV per count), or null for 1. */
  gains: Float64Array | null;
}

export interface NativeBadChannelFeatures {
  xcor: Float64Array;
  xcorHf: Float64Array;
  xcorLf: Float64Array;
  psdHf: Float64Array;
}

export interface NativeLocalWhitening {
  nNearest: number;
  epsilon: number;
  indices: Int32Array;
  weights: Float32Array;
  dense: Float64Array;
}

export interface PreprocessBinding {
  /** [sync] Second-order sections, rows [b0 b1 b2 1 a1 a2] (scipy's sos layout). */
  butterworthHighpassSos(args: NativeHighpassArgs): Float64Array;
  /** [sync] Per-channel mean removal and zero-phase high-pass → (nSamples × nChannels). */
  highpassBlock(args: NativeBlockArgs<Int16Array | Float32Array> & NativeHighpassArgs): Float32Array;
  /** [sync] Median over good channels subtracted at each sample; returns a new array. */
  commonMedianReference(args: {
    data: Float32Array;
    nSamples: number;
    nChannels: number;
    good: Uint8Array;
  }): Float32Array;
  /** [sync] Bad-channel features of one window (input in µV after gains). */
  badChannelFeatures(
    args: NativeBlockArgs<Int16Array | Float32Array> & {
      sampleRateHz: number;
      order: number;
      cutoffHz: number;
      medianWindowChannels: number;
      welchSegmentSamples: number;
      psdBandFraction: number;
    },
  ): NativeBadChannelFeatures;
  /** [sync] Labels 0 good, 1 dead, 2 noisy, 3 outside brain, of one window. */
  labelBadChannels(args: {
    xcorHf: Float64Array;
    xcorLf: Float64Array;
    psdHf: Float64Array;
    deadSimilarityBelow: number;
    noisySimilarityAbove: number;
    noisyPsdAboveUv2PerHz: number;
    outsideSimilarityBelow: number;
  }): Int32Array;
  /** [sync] Per-channel mode of (nWindows × nChannels) labels, ties to the smaller label. */
  channelLabelMode(args: { labels: Int32Array; nWindows: number; nChannels: number }): Int32Array;
  /** [sync] XᵀX / nSamples, row-major nChannels². */
  channelCovariance(args: { data: Float32Array; nSamples: number; nChannels: number }): Float64Array;
  /** [sync] Each window's covariance stabilised for bad channels, then the element-wise median. */
  whiteningCovariance(args: {
    covariances: Float64Array;
    nWindows: number;
    nChannels: number;
    labels: Int32Array;
  }): Float64Array;
  /** [sync] Local ZCA whitening over each channel's nNearest nearest channels. */
  localWhitening(args: {
    covariance: Float64Array;
    nChannels: number;
    xUm: Float64Array;
    yUm: Float64Array;
    labels: Int32Array;
    nNearest: number;
    epsilonFraction: number;
  }): NativeLocalWhitening;
  /** [sync] Inverse of a dense n×n row-major matrix; Error if singular. */
  invertMatrix(args: { matrix: Float64Array; n: number }): Float64Array;
  /** [sync] out[t, j] = scale · Σ_k weights[j, k] · data[t, indices[j, k]]. */
  applyWhitening(args: {
    data: Float32Array;
    nSamples: number;
    nChannels: number;
    indices: Int32Array;
    weights: Float32Array;
    nNearest: number;
    scale: number;
  }): Float32Array;
  /** [sync] gains → mean removal → high-pass → common median reference → whitening. */
  preprocessBatch(
    args: NativeHighpassArgs & {
      raw: Int16Array;
      nSamples: number;
      nChannels: number;
      rowStride: number;
      gains: Float64Array | null;
      good: Uint8Array;
      indices: Int32Array;
      weights: Float32Array;
      nNearest: number;
      scale: number;
      commonReference: boolean;
    },
  ): Float32Array;
}
