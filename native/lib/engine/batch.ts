// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Turning a raw batch into the data every later round matches on: high-pass, common median
 * reference and whitening (preprocessBatch), then the drift shift. Halo samples are shifted with
 * the shift of the batch that owns them, so the samples a batch sees in its halo are exactly those
 * its neighbour sees in its own range and a spike near a boundary is matched the same way by both.
 */
import { applyKriging, krigingMatrix } from '../drift.js';
import { preprocessBatch, type FloatBlock } from '../preprocess.js';
import { iblWhitenBlock } from './destripe-batch.js';
import type { ChannelState, DriftState, ProbeSetup, RawBlock } from './types.js';

export interface PreprocessParams {
  highpassHz: number;
  highpassOrder: number;
  commonReference: 'median' | 'none';
  /** 'ibl': IBL destriping instead of high-pass + common reference (native/lib/engine/destripe-batch.ts). */
  preprocessing?: 'ks25' | 'ibl';
}

/** Whitened float block (unit noise) of a raw block; bad channels are zero. */
export function whitenBlock(
  raw: RawBlock,
  setup: ProbeSetup,
  channels: ChannelState,
  params: PreprocessParams,
): FloatBlock {
  if (params.preprocessing === 'ibl') return iblWhitenBlock(raw, setup, channels, params);
  return preprocessBatch(
    { data: raw.data, nChannels: setup.nChannels },
    {
      sampleRateHz: setup.sampleRateHz,
      cutoffHz: params.highpassHz,
      order: params.highpassOrder,
      gains: channels.gains,
      good: channels.good,
      commonReference: params.commonReference === 'median',
      whitening: channels.whitening,
    },
  );
}

export interface ShiftParams {
  krigingSigmaUm: number;
}

/**
 * Applies the drift shift in place. `segments` lists the owner batch of each stretch of the
 * block (absolute, half-open sample ranges); consecutive stretches of one owner share a matrix.
 */
export function shiftBlock(
  block: FloatBlock,
  firstSample: number,
  segments: ReadonlyArray<{ batch: number; start: number; end: number }>,
  drift: DriftState,
  setup: ProbeSetup,
  params: ShiftParams,
): void {
  const c = setup.nChannels;
  for (const seg of segments) {
    const row = drift.dshiftUm.subarray(seg.batch * drift.nBlocks, (seg.batch + 1) * drift.nBlocks);
    if (row.every((v) => v === 0)) continue;
    const matrix = cachedKrigingMatrix(setup, row, drift.yBlockUm, params.krigingSigmaUm);
    const from = Math.max(0, seg.start - firstSample);
    const to = Math.min(block.nSamples, seg.end - firstSample);
    if (to <= from) continue;
    const view = block.data.subarray(from * c, to * c);
    applyKriging(view, c, matrix, view);
  }
}

interface CachedKriging {
  xUm: Float64Array;
  yUm: Float64Array;
  yBlockUm: Float64Array;
  sigmaUm: number;
  row: Float64Array;
  matrix: Float32Array;
}

/**
 * Each batch's block spans its neighbours' halos, so consecutive batches ask for the same matrices
 * (nChannels² solve each); a few recent ones are kept. Hits need identical inputs, so the matrix
 * is the one krigingMatrix would compute.
 */
const KRIGING_CACHE_SIZE = 4;
const krigingCache: CachedKriging[] = [];

function cachedKrigingMatrix(
  setup: ProbeSetup,
  row: Float64Array,
  yBlockUm: Float64Array,
  sigmaUm: number,
): Float32Array {
  const hit = krigingCache.find(
    (e) =>
      e.xUm === setup.xUm &&
      e.yUm === setup.yUm &&
      e.yBlockUm === yBlockUm &&
      e.sigmaUm === sigmaUm &&
      e.row.length === row.length &&
      e.row.every((v, i) => Object.is(v, row[i])),
  );
  if (hit) return hit.matrix;
  const copy = Float64Array.from(row);
  const { matrix } = krigingMatrix({ xUm: setup.xUm, yUm: setup.yUm }, copy, yBlockUm, {
    sigmaXUm: sigmaUm,
    sigmaYUm: 1.5 * sigmaUm,
  });
  krigingCache.push({ xUm: setup.xUm, yUm: setup.yUm, yBlockUm, sigmaUm, row: copy, matrix });
  if (krigingCache.length > KRIGING_CACHE_SIZE) krigingCache.shift();
  return matrix;
}
