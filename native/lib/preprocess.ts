// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Preprocessing on the CPU backend (ks25-algorithm.md §2.2–2.4): zero-phase Butterworth
 * high-pass, common median reference, bad-channel labels, local whitening, and the fused per-batch
 * chain. All calls are synchronous (see binding-preprocess.ts) and deterministic: the same input
 * gives bitwise the same output whatever the thread count.
 *
 * Blocks are (samples × channels), sample-major: `data[t * rowStride + c]`, a batch with its halo
 * samples on both sides. Whitened data stay float32 with unit noise; Kilosort's ×200
 * (`scaleproc`) is applied only when writing int16, through the `scale` option.
 */
import { ParameterError, expected } from '../../proto/errors.js';
import type { NativeBlockArgs } from './binding-preprocess.js';
import { loadCpuBinding } from './load.js';

/** A (samples × channels) block read from a recording. */
export interface SampleBlock<Data extends Int16Array | Float32Array = Int16Array | Float32Array> {
  /** Sample-major values, `data[t * rowStride + c]`. */
  readonly data: Data;
  /** Channels used: 0..nChannels−1 of each row. */
  readonly nChannels: number;
  /** Values per row, ≥ nChannels (385 for a SpikeGLX block that still holds the sync channel). Default nChannels. */
  readonly rowStride?: number;
}

/** A dense float32 (samples × channels) block, `data[t * nChannels + c]`. */
export interface FloatBlock {
  readonly data: Float32Array;
  readonly nSamples: number;
  readonly nChannels: number;
}

/** The zero-phase Butterworth high-pass (values come from the sort parameters). */
export interface HighpassOptions {
  readonly sampleRateHz: number;
  readonly cutoffHz: number;
  readonly order: number;
}

/** Channel labels of Kilosort 2.5 / IBL bad-channel detection. */
export const ChannelLabel = { good: 0, dead: 1, noisy: 2, outside: 3 } as const;
export type ChannelLabel = (typeof ChannelLabel)[keyof typeof ChannelLabel];

interface Shape {
  nSamples: number;
  nChannels: number;
  rowStride: number;
}

function positiveInteger(fn: string, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ParameterError(`${fn}: ${name}: ${expected('a positive integer', value)}`);
}

function shapeOf(fn: string, data: ArrayLike<number>, nChannels: number, rowStride = nChannels): Shape {
  positiveInteger(fn, 'nChannels', nChannels);
  positiveInteger(fn, 'rowStride', rowStride);
  if (rowStride < nChannels)
    throw new ParameterError(`${fn}: rowStride: ${expected(`at least nChannels (${nChannels})`, rowStride)}`);
  if (data.length === 0 || data.length % rowStride !== 0) {
    throw new ParameterError(
      `${fn}: data length: ${expected(`a positive multiple of the row stride ${rowStride}`, data.length)}`,
    );
  }
  return { nSamples: data.length / rowStride, nChannels, rowStride };
}

function checkLength(fn: string, name: string, array: ArrayLike<number>, length: number): void {
  if (array.length !== length)
    throw new ParameterError(`${fn}: ${name} length: ${expected(String(length), array.length)}`);
}

function blockArgs<Data extends Int16Array | Float32Array>(
  fn: string,
  block: SampleBlock<Data>,
  gains: Float64Array | undefined,
): NativeBlockArgs<Data> {
  const shape = shapeOf(fn, block.data, block.nChannels, block.rowStride);
  if (gains !== undefined) checkLength(fn, 'gains', gains, shape.nChannels);
  return { data: block.data, ...shape, gains: gains ?? null };
}

/** Second-order sections of the high-pass, rows `[b0 b1 b2 1 a1 a2]` like scipy's `sos` output. */
export function butterworthHighpassSos(options: HighpassOptions): Float64Array {
  return loadCpuBinding().butterworthHighpassSos(highpassArgs(options));
}

function highpassArgs(options: HighpassOptions): { order: number; cutoffHz: number; sampleRateHz: number } {
  return { order: options.order, cutoffHz: options.cutoffHz, sampleRateHz: options.sampleRateHz };
}

/**
 * Per-channel mean removal then zero-phase high-pass (scipy `sosfiltfilt` semantics: odd padding
 * of 3·(order + 1) samples at each end, steady-state initial conditions), in double.
 * @param gains per-channel factor applied first (e.g. µV per count); default 1.
 */
export function highpass(block: SampleBlock, options: HighpassOptions & { readonly gains?: Float64Array }): FloatBlock {
  const args = blockArgs('highpass', block, options.gains);
  const data = loadCpuBinding().highpassBlock({ ...args, ...highpassArgs(options) });
  return { data, nSamples: args.nSamples, nChannels: args.nChannels };
}

/**
 * Subtracts, at each sample, the median over the good channels from every channel; returns a new
 * block. @param good 1 for channels that enter the median (length nChannels).
 */
export function commonMedianReference(block: FloatBlock, good: Uint8Array): FloatBlock {
  const shape = shapeOf('commonMedianReference', block.data, block.nChannels);
  checkLength('commonMedianReference', 'good', good, shape.nChannels);
  const data = loadCpuBinding().commonMedianReference({ data: block.data, ...shape, good });
  return { data, nSamples: shape.nSamples, nChannels: shape.nChannels };
}

/** Constants of the bad-channel detector (IBL `detect_bad_channels`); defaults in brackets. */
export interface BadChannelOptions {
  readonly sampleRateHz: number;
  /** µV per count (int16 input) or per unit (float input), per channel; default: the data are already µV. */
  readonly gainsUvPerUnit?: Float64Array;
  /** High-pass of the filtered similarity. [3] */
  readonly order?: number;
  /** [300 Hz] */
  readonly cutoffHz?: number;
  /** Median filter along channels, odd. [11] */
  readonly medianWindowChannels?: number;
  /** Welch segment (Hann, half overlap). [256] */
  readonly welchSegmentSamples?: number;
  /** psdHf averages PSD bins above this fraction of Nyquist. [0.8] */
  readonly psdBandFraction?: number;
}

/** Per-channel features of one window (Float64Array, one value per channel). */
export interface BadChannelFeatures {
  /** Similarity with the across-channel median trace (1 for a typical channel). */
  readonly xcor: Float64Array;
  /** xcor minus its 11-channel running median: low for dead channels, high for noisy ones. */
  readonly xcorHf: Float64Array;
  /** Running median of the high-passed similarity minus 1: ≈ −1 outside the brain. */
  readonly xcorLf: Float64Array;
  /** Mean PSD above 0.8·Nyquist, µV²/Hz. */
  readonly psdHf: Float64Array;
}

/** Features of one window (e.g. 0.4 s of raw data), for {@link labelBadChannels}. */
export function badChannelFeatures(window: SampleBlock, options: BadChannelOptions): BadChannelFeatures {
  const args = blockArgs('badChannelFeatures', window, options.gainsUvPerUnit);
  return loadCpuBinding().badChannelFeatures({
    ...args,
    sampleRateHz: options.sampleRateHz,
    order: options.order ?? 3,
    cutoffHz: options.cutoffHz ?? 300,
    medianWindowChannels: options.medianWindowChannels ?? 11,
    welchSegmentSamples: options.welchSegmentSamples ?? 256,
    psdBandFraction: options.psdBandFraction ?? 0.8,
  });
}

/** Thresholds of the labelling rule (ks25-algorithm.md §2.2); defaults in brackets. */
export interface BadChannelThresholds {
  /** Dead if xcorHf is below. [−0.5] */
  readonly deadSimilarityBelow?: number;
  /** Noisy if xcorHf is above… [1] */
  readonly noisySimilarityAbove?: number;
  /** …or psdHf is above, µV²/Hz. [0.02] */
  readonly noisyPsdAboveUv2PerHz?: number;
  /** Outside-brain candidate if xcorLf is below. [−0.75] */
  readonly outsideSimilarityBelow?: number;
}

/**
 * Labels of one window: 0 good, 1 dead, 2 noisy, 3 outside the brain (only the contiguous run of
 * candidates ending at the top channel). Precedence: noisy over dead over outside.
 */
export function labelBadChannels(features: BadChannelFeatures, thresholds: BadChannelThresholds = {}): Int32Array {
  const n = features.xcorHf.length;
  checkLength('labelBadChannels', 'xcorLf', features.xcorLf, n);
  checkLength('labelBadChannels', 'psdHf', features.psdHf, n);
  return loadCpuBinding().labelBadChannels({
    xcorHf: features.xcorHf,
    xcorLf: features.xcorLf,
    psdHf: features.psdHf,
    deadSimilarityBelow: thresholds.deadSimilarityBelow ?? -0.5,
    noisySimilarityAbove: thresholds.noisySimilarityAbove ?? 1,
    noisyPsdAboveUv2PerHz: thresholds.noisyPsdAboveUv2PerHz ?? 0.02,
    outsideSimilarityBelow: thresholds.outsideSimilarityBelow ?? -0.75,
  });
}

/** Per channel, the most frequent label over the windows; ties go to the smaller label. */
export function channelLabelMode(labelsPerWindow: readonly Int32Array[]): Int32Array {
  const first = labelsPerWindow[0];
  if (first === undefined) throw new ParameterError(`channelLabelMode: ${expected('at least one window', 0)}`);
  const nChannels = first.length;
  const labels = new Int32Array(labelsPerWindow.length * nChannels);
  labelsPerWindow.forEach((w, i) => {
    checkLength('channelLabelMode', `window ${i}`, w, nChannels);
    labels.set(w, i * nChannels);
  });
  return loadCpuBinding().channelLabelMode({ labels, nWindows: labelsPerWindow.length, nChannels });
}

/** 1 where the label is good (0), else 0: the mask for {@link commonMedianReference}. */
export function goodChannelMask(labels: Int32Array): Uint8Array {
  return Uint8Array.from(labels, (l) => (l === ChannelLabel.good ? 1 : 0));
}

/** XᵀX / nSamples of a preprocessed window (no mean removal), row-major nChannels², float64. */
export function channelCovariance(block: FloatBlock): Float64Array {
  const shape = shapeOf('channelCovariance', block.data, block.nChannels);
  return loadCpuBinding().channelCovariance({ data: block.data, nSamples: shape.nSamples, nChannels: shape.nChannels });
}

/**
 * The covariance the whitening is computed from: each window's covariance stabilised (bad rows
 * and columns zeroed, their diagonal interpolated from good neighbours, outside-brain diagonal set
 * huge so those channels whiten to ≈ 0), then the element-wise median over windows.
 */
export function whiteningCovariance(windowCovariances: readonly Float64Array[], labels: Int32Array): Float64Array {
  const nChannels = labels.length;
  const size = nChannels * nChannels;
  if (windowCovariances.length === 0)
    throw new ParameterError(`whiteningCovariance: ${expected('at least one window', 0)}`);
  const covariances = new Float64Array(windowCovariances.length * size);
  windowCovariances.forEach((c, i) => {
    checkLength('whiteningCovariance', `window ${i}`, c, size);
    covariances.set(c, i * size);
  });
  return loadCpuBinding().whiteningCovariance({ covariances, nWindows: windowCovariances.length, nChannels, labels });
}

/**
 * Local ZCA whitening in sparse form: whitened channel j = Σ_k weights[j·K + k] · x[indices[j·K + k]]
 * (K = nNearest), unit noise, no ×200. `dense[i·nChannels + j]` is the same matrix with input
 * channel i and output channel j (phy's whitening_mat.npy = Kilosort's Wrot / 200).
 */
export interface LocalWhitening {
  readonly nChannels: number;
  /** K = min(requested, nChannels). */
  readonly nNearest: number;
  /** Regulariser added to the eigenvalues (units of the covariance). */
  readonly epsilon: number;
  /** (nChannels × K) channel indices; each channel's own index first. */
  readonly indices: Int32Array;
  /** (nChannels × K) weights. */
  readonly weights: Float32Array;
  /** Dense (nChannels²) float64 form, for export. */
  readonly dense: Float64Array;
}

export interface LocalWhiteningOptions {
  /** Sorting positions (x + shank offset), µm. */
  readonly xUm: Float64Array;
  readonly yUm: Float64Array;
  /** Channel labels; ε is a fraction of the mean good-channel variance. */
  readonly labels: Int32Array;
  /** Channels in each neighbourhood (Kilosort's whiteningRange, 32). */
  readonly nNearest: number;
  /** ε = epsilonFraction · mean(diag of good channels). [1e-3] */
  readonly epsilonFraction?: number;
}

/** Local whitening from the covariance of {@link whiteningCovariance}. */
export function localWhitening(covariance: Float64Array, options: LocalWhiteningOptions): LocalWhitening {
  const nChannels = options.labels.length;
  checkLength('localWhitening', 'covariance', covariance, nChannels * nChannels);
  checkLength('localWhitening', 'xUm', options.xUm, nChannels);
  checkLength('localWhitening', 'yUm', options.yUm, nChannels);
  positiveInteger('localWhitening', 'nNearest', options.nNearest);
  const w = loadCpuBinding().localWhitening({
    covariance,
    nChannels,
    xUm: options.xUm,
    yUm: options.yUm,
    labels: options.labels,
    nNearest: options.nNearest,
    epsilonFraction: options.epsilonFraction ?? 1e-3,
  });
  return { nChannels, ...w };
}

/** Inverse of the dense whitening matrix (phy's whitening_mat_inv.npy). Throws if singular. */
export function whiteningInverse(whitening: LocalWhitening): Float64Array {
  return loadCpuBinding().invertMatrix({ matrix: whitening.dense, n: whitening.nChannels });
}

function whiteningArgs(
  fn: string,
  whitening: LocalWhitening,
  nChannels: number,
): { indices: Int32Array; weights: Float32Array; nNearest: number } {
  if (whitening.nChannels !== nChannels) {
    throw new ParameterError(
      `${fn}: whitening channels: ${expected(`${nChannels} (the block's)`, whitening.nChannels)}`,
    );
  }
  return { indices: whitening.indices, weights: whitening.weights, nNearest: whitening.nNearest };
}

/** Applies the whitening; `scale` multiplies the result (200 for Kilosort's int16 files). [1] */
export function applyWhitening(block: FloatBlock, whitening: LocalWhitening, scale = 1): FloatBlock {
  const shape = shapeOf('applyWhitening', block.data, block.nChannels);
  const data = loadCpuBinding().applyWhitening({
    data: block.data,
    nSamples: shape.nSamples,
    nChannels: shape.nChannels,
    ...whiteningArgs('applyWhitening', whitening, shape.nChannels),
    scale,
  });
  return { data, nSamples: shape.nSamples, nChannels: shape.nChannels };
}

export interface PreprocessBatchOptions extends HighpassOptions {
  /** Per channel factor applied to the raw counts (e.g. µV per count); default 1. */
  readonly gains?: Float64Array;
  /** 1 for channels entering the common median (see {@link goodChannelMask}). */
  readonly good: Uint8Array;
  readonly whitening: LocalWhitening;
  /** Output scale; 1 gives unit-noise float data. [1] */
  readonly scale?: number;
  /** Subtract the common median of the good channels. [true] */
  readonly commonReference?: boolean;
}

/**
 * The per-batch chain on raw int16 samples (batch plus halo): gains, per-channel mean removal,
 * zero-phase high-pass, common median reference over good channels, local whitening. Bitwise equal
 * to {@link highpass}, {@link commonMedianReference} and {@link applyWhitening} in turn.
 */
export function preprocessBatch(raw: SampleBlock<Int16Array>, options: PreprocessBatchOptions): FloatBlock {
  const args = blockArgs('preprocessBatch', raw, options.gains);
  checkLength('preprocessBatch', 'good', options.good, args.nChannels);
  const data = loadCpuBinding().preprocessBatch({
    raw: args.data,
    nSamples: args.nSamples,
    nChannels: args.nChannels,
    rowStride: args.rowStride,
    gains: args.gains,
    good: options.good,
    ...whiteningArgs('preprocessBatch', options.whitening, args.nChannels),
    ...highpassArgs(options),
    scale: options.scale ?? 1,
    commonReference: options.commonReference ?? true,
  });
  return { data, nSamples: args.nSamples, nChannels: args.nChannels };
}
