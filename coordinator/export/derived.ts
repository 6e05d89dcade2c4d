// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Quantities that both the phy and the ALF writers derive from a SortingResult: unwhitened
 * templates, their peak-to-peak amplitudes, peak channels, neighbouring channels, per-spike
 * amplitudes in physical units and per-spike depths.
 */
import { multiplyFloat32Rows, templatePeakToPeak } from '../../native/lib/index.js';
import type { SortingResult } from '../formats/sorting-result.js';
import { pseudoInverse } from './pinv.js';
import type { SortingDims } from './validate.js';

/**
 * Zero samples before each template in `templates.npy`: the 61-sample template becomes an
 * 82-sample one, as pykilosort writes it, which puts the trough (sample 20) at the centre
 * (sample 41) of phy's window.
 */
export const PHY_LEADING_ZEROS = 21;

/** Channels kept around the peak channel for the ALF waveforms (phylib's n_closest_channels). */
export const ALF_WAVEFORM_CHANNELS = 32;

// The SVD takes about 0.5 s for 384 channels; writing phy then ALF from one result reuses it. The
// copy guards against a whitening array changed in place between the two calls.
const inverseCache = new WeakMap<Float64Array, { copy: Float64Array; inverse: Float64Array }>();

/** The whitening matrix's pseudo-inverse: whitened units → raw ADC counts, (C, C) row-major. */
export function whiteningInverse(result: SortingResult, dims: SortingDims): Float64Array {
  const cached = inverseCache.get(result.whitening);
  if (cached !== undefined && cached.copy.every((v, i) => Object.is(v, result.whitening[i]))) return cached.inverse;
  const { inverse } = pseudoInverse(result.whitening, dims.nChannels, dims.nChannels);
  inverseCache.set(result.whitening, { copy: Float64Array.from(result.whitening), inverse });
  return inverse;
}

export interface TemplateDerived {
  /** (T, nt0, C) unit templates brought back to ADC counts (template · whitening⁺). */
  unwhitenedCounts: Float64Array;
  /** (T,) max over channels of the unwhitened template's peak-to-peak, ADC counts per unit of y. */
  p2pCounts: Float64Array;
  /** (T,) the same in volts: per-channel peak-to-peak × that channel's V per count, max over channels. */
  p2pVolts: Float64Array;
  /** (T,) channel with the largest peak-to-peak of the whitened template (lowest index on ties). */
  peakChannels: Int32Array;
  /** (T,) y µm (within the shank) of the peak channel. */
  peakDepthsUm: Float64Array;
}

/**
 * Unwhitened templates, their amplitudes and peak channels. The product and the peak-to-peak
 * loops run in the native core on all cores, in the order of the TypeScript loops they replaced
 * (bit for bit): ~5 s of the main thread for 685 templates × 61 samples × 384 channels.
 */
export function deriveTemplates(result: SortingResult, dims: SortingDims, winv: Float64Array): TemplateDerived {
  const { nTemplates: T, nt0, nChannels: C } = dims;
  const wf = result.templates.waveforms;
  // Four rows share each pass over a row of winv; the channels where all four rows are 0 (a
  // template lives on the ~32 around its peak) are skipped without changing a bit.
  const unwhitenedCounts = multiplyFloat32Rows(wf, winv, T * nt0, C);
  const { p2pCounts, p2pVolts, peakChannels } = templatePeakToPeak(
    wf,
    unwhitenedCounts,
    result.probe.uvPerCount,
    T,
    nt0,
    C,
  );
  const peakDepthsUm = new Float64Array(T);
  for (let t = 0; t < T; t++) peakDepthsUm[t] = result.probe.localPositionsUm[2 * peakChannels[t]! + 1]!;
  return { unwhitenedCounts, p2pCounts, p2pVolts, peakChannels, peakDepthsUm };
}

/** (T,) ms from the trough to the peak on the peak channel of the whitened template (negative if the peak comes first). */
export function peakToTroughMs(result: SortingResult, dims: SortingDims, peakChannels: Int32Array): Float64Array {
  const { nTemplates: T, nt0, nChannels: C } = dims;
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const start = t * nt0 * C + peakChannels[t]!;
    let iMin = 0;
    let iMax = 0;
    for (let i = 1; i < nt0; i++) {
      const v = result.templates.waveforms[start + i * C]!;
      if (v < result.templates.waveforms[start + iMin * C]!) iMin = i;
      if (v > result.templates.waveforms[start + iMax * C]!) iMax = i;
    }
    out[t] = ((iMax - iMin) / result.sampleRateHz) * 1e3;
  }
  return out;
}

/** (S,) y × per-template factor, e.g. spike amplitudes in counts (p2pCounts) or volts (p2pVolts). */
export function spikeAmplitudes(result: SortingResult, perTemplate: Float64Array): Float64Array {
  const { amplitudes, templates } = result.spikes;
  const out = new Float64Array(amplitudes.length);
  for (let s = 0; s < out.length; s++) out[s] = amplitudes[s]! * perTemplate[templates[s]!]!;
  return out;
}

/** (T,) mean of a per-spike value over each template's spikes; NaN for a template without spikes. */
export function meanPerTemplate(values: Float64Array, spikeTemplates: Uint32Array, nTemplates: number): Float64Array {
  const sum = new Float64Array(nTemplates);
  const count = new Float64Array(nTemplates);
  for (let s = 0; s < values.length; s++) {
    const t = spikeTemplates[s]!;
    sum[t]! += values[s]!;
    count[t]! += 1;
  }
  return sum.map((v, t) => (count[t] === 0 ? NaN : v / count[t]!));
}

/**
 * (T, n) the n channels closest to each peak channel by L1 distance in the sorter's positions
 * (shanks side by side, so another shank is never "close"), peak channel first, ties broken by
 * channel index. n = min(C, ALF_WAVEFORM_CHANNELS).
 */
export function nearestChannels(result: SortingResult, dims: SortingDims, peakChannels: Int32Array): Int32Array {
  const { nTemplates: T, nChannels: C } = dims;
  const n = Math.min(C, ALF_WAVEFORM_CHANNELS);
  const pos = result.probe.sortingPositionsUm;
  const out = new Int32Array(T * n);
  const order = Array.from({ length: C }, (_, c) => c);
  const dist = new Float64Array(C);
  for (let t = 0; t < T; t++) {
    const p = peakChannels[t]!;
    for (let c = 0; c < C; c++) {
      dist[c] = Math.abs(pos[2 * c]! - pos[2 * p]!) + Math.abs(pos[2 * c + 1]! - pos[2 * p + 1]!);
    }
    order.sort((a, b) => dist[a]! - dist[b]! || (a === p ? -1 : b === p ? 1 : a - b));
    for (let k = 0; k < n; k++) out[t * n + k] = order[k]!;
  }
  return out;
}

/**
 * (S,) µm: mean y of the template's PC-feature channels weighted by max(PC1 feature, 0)²; the
 * template's peak-channel depth when no channel has a positive PC1 feature.
 */
export function spikeDepthsUm(result: SortingResult, dims: SortingDims, templateDepthsUm: Float64Array): Float64Array {
  const { nSpikes: S, nTemplates: T, nPc, nFeatures: K } = dims;
  const { features, templates } = result.spikes;
  const ind = result.templates.pcFeatureInd;
  const pos = result.probe.localPositionsUm;
  const out = new Float64Array(S);
  const width = nPc * K;
  // The y of each template's K feature channels, looked up once instead of once per spike.
  const channelY = new Float64Array(T * K);
  for (let i = 0; i < T * K; i++) channelY[i] = pos[2 * ind[i]! + 1]!;
  let s = 0;
  // PC features are read chunk by chunk in spike order: never the whole (S, nPc, K) array.
  features.scan('pc', null, (chunk) => {
    const rows = chunk.length / width;
    for (let row = 0; row < rows; row++, s++) {
      const t = templates[s]!;
      const at = row * width;
      const yAt = t * K;
      let num = 0;
      let den = 0;
      for (let k = 0; k < K; k++) {
        const pc1 = chunk[at + k]!;
        if (!(pc1 > 0)) continue;
        const w = pc1 * pc1;
        num += w * channelY[yAt + k]!;
        den += w;
      }
      out[s] = den > 0 ? num / den : templateDepthsUm[t]!;
    }
  });
  if (s !== S) throw new RangeError(`spike depths: the PC features gave ${s} rows, expected ${S}`);
  return out;
}

/**
 * (T, PHY_LEADING_ZEROS + nt0, n) float32 volts: each unwhitened template scaled by its mean spike
 * amplitude y and its channels' V per count, on the channels `channels` (T, n); NaN for templates
 * without spikes (their mean amplitude is undefined).
 */
export function templateWaveformsVolts(
  result: SortingResult,
  dims: SortingDims,
  unwhitenedCounts: Float64Array,
  meanY: Float64Array,
  channels: Int32Array,
): Float32Array {
  const { nTemplates: T, nt0, nChannels: C } = dims;
  const n = Math.min(C, ALF_WAVEFORM_CHANNELS);
  const nSamples = PHY_LEADING_ZEROS + nt0;
  const out = new Float32Array(T * nSamples * n);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < n; k++) {
      const c = channels[t * n + k]!;
      const scale = meanY[t]! * result.probe.uvPerCount[c]! * 1e-6;
      for (let i = 0; i < nSamples; i++) {
        const j = i - PHY_LEADING_ZEROS;
        out[(t * nSamples + i) * n + k] = j < 0 ? 0 * scale : unwhitenedCounts[(t * nt0 + j) * C + c]! * scale;
      }
    }
  }
  return out;
}
