// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Round 2, per batch: isolated snippets (for the prototype waveforms) and spikes of the generic
 * detector as a depth × amplitude histogram (for registration). Both work on the whitened,
 * unshifted batch and report only what lies in the batch's own range.
 */
import { preprocessArgs } from '../backend.js';
import type { NativeCudaBinding } from '../binding-cuda.js';
import {
  detectDriftSpikes,
  driftDetectorParams,
  driftHistogram,
  findIsolatedSnippets,
  type DriftSpikes,
} from '../drift.js';
import type { FloatBlock, PreprocessBatchOptions } from '../preprocess.js';
import type { ProbeSetup, RawBlock } from './types.js';

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
  return driftResult(spikes, firstSample, setup);
}

/** The CUDA binding's fused detection entry (raw int16 → whitened on the device → spikes). */
export type CudaDriftBinding = Pick<NativeCudaBinding, 'preprocessDriftDetectSpikes'> &
  Partial<Pick<NativeCudaBinding, 'preprocessDriftDetectSpikesAsync'>>;

/**
 * {@link driftBatch} of a raw batch on the CUDA backend: preprocessing (`options`, no drift shift)
 * and detection run on the device in one call, so the whitened block never comes back to the host.
 * Same result as the CPU's whitenBlock + driftBatch, bitwise (test/gpu/drift.test.ts).
 */
export function cudaDriftBatch(
  cuda: CudaDriftBinding,
  raw: RawBlock,
  options: PreprocessBatchOptions,
  ownBegin: number,
  ownEnd: number,
  setup: ProbeSetup,
  wTemp: Float32Array,
  threshold: number,
): DriftBatchResult {
  const { args, params } = fusedDriftArgs(raw, options, ownBegin, ownEnd, setup, threshold);
  const spikes = cuda.preprocessDriftDetectSpikes(args, setup.xUm, setup.yUm, wTemp, params);
  return driftResult(spikes, raw.firstSample, setup);
}

/** The binding's batch and detector arguments of the fused detection entries. */
function fusedDriftArgs(
  raw: RawBlock,
  options: PreprocessBatchOptions,
  ownBegin: number,
  ownEnd: number,
  setup: ProbeSetup,
  threshold: number,
) {
  const args = preprocessArgs({ data: raw.data, nChannels: setup.nChannels }, options, undefined, setup.nChannels);
  const params = driftDetectorParams({ ownBeginSample: ownBegin, ownEndSample: ownEnd, threshold }, args.nSamples);
  return { args, params };
}

/**
 * {@link cudaDriftBatch} off the JavaScript thread when the build has the async entry (else the
 * sync one): the next batch's read overlaps this one's device work. Same result, bitwise.
 */
export async function cudaDriftBatchAsync(
  cuda: CudaDriftBinding,
  raw: RawBlock,
  options: PreprocessBatchOptions,
  ownBegin: number,
  ownEnd: number,
  setup: ProbeSetup,
  wTemp: Float32Array,
  threshold: number,
): Promise<DriftBatchResult> {
  if (!cuda.preprocessDriftDetectSpikesAsync)
    return cudaDriftBatch(cuda, raw, options, ownBegin, ownEnd, setup, wTemp, threshold);
  const { args, params } = fusedDriftArgs(raw, options, ownBegin, ownEnd, setup, threshold);
  const spikes = await cuda.preprocessDriftDetectSpikesAsync(args, setup.xUm, setup.yUm, wTemp, params);
  return driftResult(spikes, raw.firstSample, setup);
}

function driftResult(spikes: DriftSpikes, firstSample: number, setup: ProbeSetup): DriftBatchResult {
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
