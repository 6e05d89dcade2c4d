// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * IBL destriping of a batch (ks25-algorithm.md §2.3), the `preprocessing: 'ibl'` alternative to
 * Kilosort 2.5's high-pass + common median reference: saturation mute, zero-phase high-pass, ADC
 * sample-shift correction, bad-channel interpolation, spatial high-pass across each shank's
 * channels (k-filter with automatic gain control). Synchronous and bitwise independent of the
 * thread count, like every preprocessing kernel.
 */
import { ParameterError, expected } from '../../proto/errors.js';
import type { NativeDestripeArgs } from './binding-destripe.js';
import { loadCpuBinding } from './load.js';
import type { FloatBlock, HighpassOptions, SampleBlock } from './preprocess.js';
import { defaultProbeModel, type ProbeType } from './recording/probe-table.js';

/** Options of {@link destripeBatch}; IBL's values are the defaults (in brackets). */
export interface DestripeOptions extends HighpassOptions {
  /** µV per count of each channel (all channels, bad ones included); default 1. */
  readonly gains?: Float64Array;
  /** 0 good, 1 dead, 2 noisy (both interpolated), 3 outside the brain (left out of the k-filter). */
  readonly labels: Int32Array;
  /** Site positions for the interpolation distances, µm. */
  readonly xUm: Float64Array;
  readonly yUm: Float64Array;
  /** Shank of each channel; the k-filter runs per shank. Default: one shank. */
  readonly shank?: Int32Array;
  /** ADC sampling offset of each channel in samples ({@link adcSampleShift}); null: no correction. [null] */
  readonly sampleShift?: Float64Array | null;
  /** Interpolation weights exp(−(d/length)^power), smaller than minWeight dropped. [20 µm, 1.3, 0.005] */
  readonly interpolationLengthUm?: number;
  readonly interpolationPower?: number;
  readonly interpolationMinWeight?: number;
  /** Apply the spatial high-pass. [true] */
  readonly kfilter?: boolean;
  /** Butterworth order and cut-off (fraction of the spatial Nyquist) of the k-filter. [3, 0.01] */
  readonly kfilterOrder?: number;
  readonly kfilterCutoff?: number;
  /** Mirrored channels at each end of a shank. [60] */
  readonly kfilterPadChannels?: number;
  /** Hann window of the gain control, samples (odd), 0 for none. [fs/10 rounded to odd: 3001 at 30 kHz] */
  readonly agcWindowSamples?: number;
  /** Mute saturated samples. [true] */
  readonly mute?: boolean;
  /** ADC full scale, counts ({@link adcFullScaleCounts}). [32768] */
  readonly saturationMaxCount?: number;
  /** A channel at ≥ this fraction of full scale is at the rail. [0.98] */
  readonly saturationLevelFraction?: number;
  /** A step of at least this many µV between samples is a saturation step. [300] */
  readonly saturationStepUv?: number;
  /** A sample is saturated if more than this fraction of channels is at the rail or steps. [0.2] */
  readonly saturationChannelFraction?: number;
  /**
   * 1 for the channels whose median is subtracted from all at each sample after the chain, as
   * `commonMedianReference` does, in the same pass as the interpolation; null: none. [null]
   */
  readonly commonReference?: Uint8Array | null;
}

/** A destriped batch, µV, and how many of its samples were found saturated (and muted). */
export interface DestripedBlock extends FloatBlock {
  readonly nSaturated: number;
}

function check(fn: string, name: string, array: ArrayLike<number> | undefined | null, n: number): void {
  if (array !== undefined && array !== null && array.length !== n) {
    throw new ParameterError(`${fn}: ${name} length: ${expected(String(n), array.length)}`);
  }
}

/** The Hann window of the gain control at a sample rate: fs/10 samples, made odd. */
export function agcWindowSamples(sampleRateHz: number): number {
  const n = Math.round(sampleRateHz / 10);
  return n % 2 === 1 ? n : n + 1;
}

/**
 * The binding's arguments of {@link destripeBatch} (shared with the CUDA backend's IBL waveform
 * entries), checked; `fn` names the caller in the errors.
 */
export function destripeArgs(
  raw: SampleBlock<Int16Array>,
  options: DestripeOptions,
  fn = 'destripeBatch',
): NativeDestripeArgs {
  const nChannels = raw.nChannels;
  const rowStride = raw.rowStride ?? nChannels;
  if (!Number.isSafeInteger(nChannels) || nChannels < 1 || rowStride < nChannels) {
    throw new ParameterError(`${fn}: nChannels: ${expected(`1..rowStride (${rowStride})`, nChannels)}`);
  }
  if (raw.data.length === 0 || raw.data.length % rowStride !== 0) {
    throw new ParameterError(`${fn}: data length: ${expected(`a positive multiple of ${rowStride}`, raw.data.length)}`);
  }
  check(fn, 'gains', options.gains, nChannels);
  check(fn, 'labels', options.labels, nChannels);
  check(fn, 'xUm', options.xUm, nChannels);
  check(fn, 'yUm', options.yUm, nChannels);
  check(fn, 'shank', options.shank, nChannels);
  check(fn, 'sampleShift', options.sampleShift, nChannels);
  check(fn, 'commonReference', options.commonReference, nChannels);
  return {
    raw: raw.data,
    nSamples: raw.data.length / rowStride,
    nChannels,
    rowStride,
    gains: options.gains ?? null,
    shiftSamples: options.sampleShift ?? null,
    xUm: options.xUm,
    yUm: options.yUm,
    shank: options.shank ?? null,
    labels: options.labels,
    order: options.order,
    cutoffHz: options.cutoffHz,
    sampleRateHz: options.sampleRateHz,
    interpLengthUm: options.interpolationLengthUm ?? 20,
    interpPower: options.interpolationPower ?? 1.3,
    interpMinWeight: options.interpolationMinWeight ?? 0.005,
    kfilter: options.kfilter ?? true,
    kOrder: options.kfilterOrder ?? 3,
    kCutoff: options.kfilterCutoff ?? 0.01,
    kPadChannels: options.kfilterPadChannels ?? 60,
    agcWindowSamples: options.agcWindowSamples ?? agcWindowSamples(options.sampleRateHz),
    mute: options.mute ?? true,
    saturationMaxCount: options.saturationMaxCount ?? 32768,
    saturationLevelFraction: options.saturationLevelFraction ?? 0.98,
    saturationStepUv: options.saturationStepUv ?? 300,
    saturationChannelFraction: options.saturationChannelFraction ?? 0.2,
    reference: options.commonReference ?? null,
  };
}

/**
 * Destripes raw int16 samples (batch plus halo) into a (samples × channels) µV block: into `out`
 * when given (exactly samples × channels values, all overwritten: a buffer reused across batches),
 * else a new array.
 */
export function destripeBatch(
  raw: SampleBlock<Int16Array>,
  options: DestripeOptions,
  out?: Float32Array,
): DestripedBlock {
  const args = destripeArgs(raw, options);
  if (out !== undefined && out.length !== args.nSamples * args.nChannels) {
    throw new ParameterError(
      `destripeBatch: out length: ${expected(`nSamples × nChannels = ${args.nSamples * args.nChannels}`, out.length)}`,
    );
  }
  const { data, nSaturated } = loadCpuBinding().destripeBatch({ ...args, out: out ?? null });
  return { data, nSamples: args.nSamples, nChannels: args.nChannels, nSaturated };
}

/**
 * When each channel is sampled within a sample period, in samples (ks25-algorithm.md §2.3):
 * NP1.0 has 32 ADCs of 12 channels converted in 13 cycles, NP2.0 24 ADCs of 16 in 16 cycles.
 * Channel c is taken as acquisition channel c. Other probes: no offsets (zeros).
 */
export function adcSampleShift(probeType: ProbeType | 'custom', nChannels: number): Float64Array {
  if (probeType === 'custom') return new Float64Array(nChannels);
  const [perAdc, cycles] = probeType === 'np1' ? [12, 13] : [16, 16];
  return loadCpuBinding().adcSampleShift({ nChannels, perAdc, cycles });
}

/** ADC full scale in counts (the family's default model: 512 for NP1.0); int16 range for other probes. */
export function adcFullScaleCounts(probeType: ProbeType | 'custom'): number {
  return probeType === 'custom' ? 32768 : defaultProbeModel(probeType).maxInt;
}

/** Shape of a set of waveforms cut by {@link cutWaveforms}: nWaves × nRows × length values. */
export interface WaveformWindows {
  /** (nWaves,) first sample of each window in the block. */
  readonly starts: Int32Array;
  /** (nWaves × nRows) block channel of each row; nChannels (one past the last) pads a row with NaN. */
  readonly channels: Int32Array;
  readonly nRows: number;
  /** Samples per window. */
  readonly length: number;
}

/**
 * IBL waveforms out of a preprocessed (samples × channels) block: out[w, r, i] =
 * block[starts[w] + i, channels[w, r]] · scale, multiplied in double and rounded to float32 (as
 * a JS store into a Float32Array rounds), NaN on padded rows. `out` holds nWaves·nRows·length
 * values. RangeError on a window or channel outside the block.
 */
export function cutWaveforms(block: FloatBlock, windows: WaveformWindows, scale: number, out: Float32Array): void {
  loadCpuBinding().cutWaveforms({
    block: block.data,
    nSamples: block.nSamples,
    nChannels: block.nChannels,
    starts: windows.starts,
    channels: windows.channels,
    nWaves: windows.starts.length,
    nRows: windows.nRows,
    length: windows.length,
    scale,
    out,
  });
}

/**
 * Per value p < out.length, the median over the waveforms w of traces[w·out.length + p], NaN
 * values left out (NaN where all are): numpy's median of float32 values (the mean of the two
 * middle ones for an even count, in float64, then rounded to float32; −0 sorts before 0).
 */
export function waveformMedians(traces: Float32Array, out: Float32Array): void {
  const nValues = out.length;
  if (nValues === 0 || traces.length % nValues !== 0) {
    throw new ParameterError(
      `waveformMedians: traces length: ${expected(`a multiple of out.length = ${nValues}`, traces.length)}`,
    );
  }
  loadCpuBinding().waveformMedians({ traces, nWaves: traces.length / nValues, nValues, out });
}

/** binary16 bit patterns of `values` into `out` (same length), as float16Bits rounds (ties to even). */
export function toFloat16Bits(values: Float32Array, out: Uint16Array): void {
  loadCpuBinding().float16FromFloat32({ values, out });
}

/** Where {@link finishIblWaveformsAsync} reads and writes, and the clusters' rows. */
export interface IblWaveformFinish {
  /** Open file (read) of the cut waveforms: row r, nValues float32, at byte r·nValues·4. */
  readonly scratchFd: number;
  /** Open file (write) of the traces; cluster u's block starts at byte tracesOffset + u·maxPerCluster·nValues·2. */
  readonly tracesFd: number;
  readonly tracesOffset: number;
  /** Scratch row of each waveform, cluster after cluster, in each cluster's order. */
  readonly rows: Uint32Array;
  /** (U + 1) cluster u's waveforms are rows[firstRow[u], firstRow[u + 1]), at most maxPerCluster. */
  readonly firstRow: Float64Array;
  readonly maxPerCluster: number;
  /** Values per waveform (channels × samples). */
  readonly nValues: number;
}

/**
 * IBL waveforms' finish on the engine's threads, clusters in parallel, the JavaScript thread free:
 * per cluster u, its waveforms read from the scratch file, their medians ({@link waveformMedians})
 * into `templates` (U·nValues, row u), their float16 patterns ({@link toFloat16Bits}) followed by
 * NaN (0x7e00) up to maxPerCluster waveforms written to the traces file. Results do not depend on
 * the thread count. Both files must stay open until the promise settles; it rejects on a short or
 * failed read or write.
 */
export function finishIblWaveformsAsync(finish: IblWaveformFinish, templates: Float32Array): Promise<void> {
  const U = finish.firstRow.length - 1;
  if (U < 0 || templates.length !== U * finish.nValues) {
    throw new ParameterError(
      `finishIblWaveformsAsync: templates length: ${expected(`(firstRow.length − 1) × nValues = ${Math.max(U, 0) * finish.nValues}`, templates.length)}`,
    );
  }
  return loadCpuBinding().finishIblWaveformsAsync({ ...finish, templates });
}
