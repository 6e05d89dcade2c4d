// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw bindings of IBL destriping (native/src/addon/preprocess.cc, spikeshard/destripe.h). [sync]
 * unless marked, one object with every field present (optional means `null`). TypeError on a missing or
 * mistyped field, RangeError on a wrong size or value.
 */
import type { NativeHighpassArgs } from './binding-preprocess.js';

export interface NativeDestripeArgs extends NativeHighpassArgs {
  raw: Int16Array;
  nSamples: number;
  nChannels: number;
  rowStride: number;
  gains: Float64Array | null;
  shiftSamples: Float64Array | null;
  xUm: Float64Array;
  yUm: Float64Array;
  shank: Int32Array | null;
  labels: Int32Array;
  interpLengthUm: number;
  interpPower: number;
  interpMinWeight: number;
  kfilter: boolean;
  kOrder: number;
  kCutoff: number;
  kPadChannels: number;
  agcWindowSamples: number;
  mute: boolean;
  saturationMaxCount: number;
  saturationLevelFraction: number;
  saturationStepUv: number;
  saturationChannelFraction: number;
  /** Channels of the common median reference applied last; null: none. */
  reference: Uint8Array | null;
}

export interface DestripeBinding {
  /**
   * [sync] Mute detection, high-pass, ADC shift, bad-channel interpolation, k-filter, mute → µV,
   * into `out` (nSamples × nChannels, every value written) when given, else a new array.
   */
  destripeBatch(args: NativeDestripeArgs & { out?: Float32Array | null }): { data: Float32Array; nSaturated: number };
  /** [sync] Per-channel ADC sampling offsets in samples. */
  adcSampleShift(args: { nChannels: number; perAdc: number; cycles: number }): Float64Array;
  /** [sync] Waveform windows × scale out of a block into out (NaN on padded rows). RangeError on a window outside. */
  cutWaveforms(args: {
    block: Float32Array;
    nSamples: number;
    nChannels: number;
    starts: Int32Array;
    channels: Int32Array;
    nWaves: number;
    nRows: number;
    length: number;
    scale: number;
    out: Float32Array;
  }): void;
  /** [sync] NaN-skipping medians over nWaves waveforms of nValues each, into out. */
  waveformMedians(args: { traces: Float32Array; nWaves: number; nValues: number; out: Float32Array }): void;
  /** [sync] binary16 bit patterns of float32 values into out (same length). */
  float16FromFloat32(args: { values: Float32Array; out: Uint16Array }): void;
  /**
   * [async, task pool] IBL waveforms' finish: per cluster u, its scratch rows rows[firstRow[u],
   * firstRow[u + 1]) (nValues float32 each, row r at byte r·nValues·4 of scratchFd) → their medians
   * into templates[u·nValues …] and their float16 traces, NaN-padded to maxPerCluster waveforms,
   * written at tracesOffset + u·maxPerCluster·nValues·2 of tracesFd. Both files stay open until it
   * settles; rejects on a short or failed read or write.
   */
  finishIblWaveformsAsync(args: {
    scratchFd: number;
    tracesFd: number;
    tracesOffset: number;
    rows: Uint32Array;
    firstRow: Float64Array;
    maxPerCluster: number;
    nValues: number;
    templates: Float32Array;
  }): Promise<void>;
}
