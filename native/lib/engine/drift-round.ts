// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Round 2, per batch: isolated snippets (for the prototype waveforms) and spikes of the generic
 * detector as a depth × amplitude histogram (for registration). Both work on the whitened,
 * unshifted batch and report only what lies in the batch's own range.
 */
import { detectDriftSpikes, driftHistogram, findIsolatedSnippets } from '../drift.js';
import type { FloatBlock } from '../preprocess.js';
import type { ProbeSetup } from './types.js';

/** Single-channel snippets (n × 61) of isolated peaks below −threshold. */
export function prototypeSnippets(
  whitened: FloatBlock,
  ownBegin: number,
  ownEnd: number,
  snippetThreshold: number,
): Float32Array {
  return findIsolatedSnippets(whitened.data, whitened.nChannels, {
    threshold: -snippetThreshold,
    ownBeginSample: ownBegin,
    ownEndSample: ownEnd,
  }).snippets;
}

export interface DriftBatchResult {
  /** (depthBins × ampBins) log2(1 + counts). */
  histogram: Float32Array;
  depthBins: number;
  ampBins: number;
  /** Detected spikes, for the drift map of the report: trough sample (absolute), depth, amplitude. */
  samples: Float64Array;
  depthsUm: Float32Array;
  amplitudes: Float32Array;
}

export function driftBatch(
  whitened: FloatBlock,
  firstSample: number,
  ownBegin: number,
  ownEnd: number,
  setup: ProbeSetup,
  wTemp: Float32Array,
  threshold: number,
): DriftBatchResult {
  const spikes = detectDriftSpikes(whitened.data, whitened.nChannels, { xUm: setup.xUm, yUm: setup.yUm }, wTemp, {
    ownBeginSample: ownBegin,
    ownEndSample: ownEnd,
    threshold,
  });
  const h = driftHistogram(spikes, { yUm: setup.yUm });
  return {
    histogram: h.histogram,
    depthBins: h.depthBins,
    ampBins: h.ampBins,
    samples: Float64Array.from(spikes.samples, (s) => s + firstSample),
    depthsUm: spikes.depthsUm,
    amplitudes: spikes.amplitudes,
  };
}
