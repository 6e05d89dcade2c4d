// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw bindings of IBL destriping (native/src/addon/preprocess.cc, spikeshard/destripe.h). [sync],
 * one object with every field present (optional means `null`). TypeError on a missing or
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
}

export interface DestripeBinding {
  /** [sync] Mute detection, high-pass, ADC shift, bad-channel interpolation, k-filter, mute → µV. */
  destripeBatch(args: NativeDestripeArgs): { data: Float32Array; nSaturated: number };
  /** [sync] Per-channel ADC sampling offsets in samples. */
  adcSampleShift(args: { nChannels: number; perAdc: number; cycles: number }): Float64Array;
}
