// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Turning a raw batch into the data every later round matches on: high-pass, common median
 * reference and whitening (preprocessBatch), then the drift shift. Halo samples are shifted with
 * the shift of the batch that owns them, so the samples a batch sees in its halo are exactly those
 * its neighbour sees in its own range and a spike near a boundary is matched the same way by both.
 */
import { applyKriging, krigingMatrix, krigingMatrixAsync } from '../drift.js';
import type { DriftBinding } from '../binding-drift.js';
import type { NativeCudaBinding } from '../binding-cuda.js';
import { preprocessBatch, type FloatBlock, type PreprocessBatchOptions } from '../preprocess.js';
import { cudaPreprocessShiftBatch, type BlockKriging } from '../backend.js';
import { iblWhitenBlock } from './destripe-batch.js';
import type { ChannelState, DriftState, ProbeSetup, RawBlock } from './types.js';

export interface PreprocessParams {
  highpassHz: number;
  highpassOrder: number;
  commonReference: 'median' | 'none';
  /** 'ibl': IBL destriping instead of high-pass + common reference (native/lib/engine/destripe-batch.ts). */
  preprocessing?: 'ks25' | 'ibl';
}

export function preprocessOptions(
  setup: ProbeSetup,
  channels: ChannelState,
  params: PreprocessParams,
): PreprocessBatchOptions {
  return {
    sampleRateHz: setup.sampleRateHz,
    cutoffHz: params.highpassHz,
    order: params.highpassOrder,
    gains: channels.gains,
    good: channels.good,
    commonReference: params.commonReference === 'median',
    whitening: channels.whitening,
  };
}

/** Whitened float block (unit noise) of a raw block; bad channels are zero. */
export function whitenBlock(
  raw: RawBlock,
  setup: ProbeSetup,
  channels: ChannelState,
  params: PreprocessParams,
): FloatBlock {
  if (params.preprocessing === 'ibl') return iblWhitenBlock(raw, setup, channels, params);
  return preprocessBatch({ data: raw.data, nChannels: setup.nChannels }, preprocessOptions(setup, channels, params));
}

/** The part of the CUDA binding the engine's preprocessing uses. */
export type CudaPreprocessBinding = Pick<NativeCudaBinding, 'preprocessShiftBatch'>;

/** The drift shift a block gets after whitening (see {@link shiftBlock}). */
export interface BlockShift {
  segments: ReadonlyArray<{ batch: number; start: number; end: number }>;
  drift: DriftState;
  params: ShiftParams;
}

/**
 * The device's form of a block's drift shift: one matrix when it covers every row of the block (no
 * owner changes its shift inside it), else one stretch per owner with its own matrix (a block's
 * halos belong to the neighbouring batches, which usually have other shifts); undefined when no
 * row is shifted. The matrices come from the CPU path's cache, so the shift is the CPU's.
 */
export function blockKriging(raw: BlockSpan, setup: ProbeSetup, shift: BlockShift | null): BlockKriging {
  if (!shift) return undefined;
  return devicePieces(
    krigingPieces(raw.firstSample, raw.nSamples, shift.segments, shift.drift, setup, shift.params),
    raw,
  );
}

/**
 * {@link blockKriging} with the matrices solved off the JavaScript thread (the same matrices). It
 * needs only the block's span, so it can run while the block is read.
 */
export async function blockKrigingAsync(
  raw: BlockSpan,
  setup: ProbeSetup,
  shift: BlockShift | null,
): Promise<BlockKriging> {
  if (!shift) return undefined;
  const stretches = shiftedStretches(raw.firstSample, raw.nSamples, shift.segments, shift.drift);
  const pieces = await Promise.all(
    stretches.map(async ({ from, to, row }) => ({
      from,
      to,
      matrix: await cachedKrigingMatrixAsync(setup, row, shift.drift.yBlockUm, shift.params.krigingSigmaUm),
    })),
  );
  return devicePieces(pieces, raw);
}

/** The span of a block: what its kriging depends on. */
export type BlockSpan = Pick<RawBlock, 'firstSample' | 'nSamples'>;

function devicePieces(pieces: KrigingPiece[], raw: BlockSpan): BlockKriging {
  const first = pieces[0]?.matrix;
  if (first === undefined) return undefined;
  const single =
    pieces.every((p) => p.matrix === first) && pieces.reduce((n, p) => n + (p.to - p.from), 0) === raw.nSamples;
  return single ? first : pieces;
}

/**
 * {@link whitenBlock} then, with `shift`, {@link shiftBlock}, with the ks25 chain on the GPU: one
 * int16 upload and one float download, every stretch shifted on the device with its owner's
 * matrix ({@link blockKriging}). Bitwise equal to the CPU path (the kernels are, docs/cuda.md).
 * Not for `preprocessing: 'ibl'` (no CUDA version; the engine uses the CPU there).
 */
export function cudaWhitenShiftBlock(
  cuda: CudaPreprocessBinding,
  raw: RawBlock,
  setup: ProbeSetup,
  channels: ChannelState,
  params: PreprocessParams,
  shift: BlockShift | null,
): FloatBlock {
  if (params.preprocessing === 'ibl') {
    throw new RangeError('cudaWhitenShiftBlock: the ibl preprocessing has no CUDA version');
  }
  return cudaPreprocessShiftBatch(
    cuda,
    { data: raw.data, nChannels: setup.nChannels },
    preprocessOptions(setup, channels, params),
    blockKriging(raw, setup, shift),
  );
}

export interface ShiftParams {
  krigingSigmaUm: number;
}

/**
 * Applies the drift shift in place. `segments` lists the owner batch of each stretch of the
 * block (absolute, half-open sample ranges); consecutive stretches of one owner share a matrix.
 * `kriging` runs the matrix product (default: the CPU binding's).
 */
export function shiftBlock(
  block: FloatBlock,
  firstSample: number,
  segments: ReadonlyArray<{ batch: number; start: number; end: number }>,
  drift: DriftState,
  setup: ProbeSetup,
  params: ShiftParams,
  kriging?: Pick<DriftBinding, 'driftApplyKriging'>,
): void {
  applyPieces(block, krigingPieces(firstSample, block.nSamples, segments, drift, setup, params), kriging);
}

interface KrigingPiece {
  /** Block rows, half-open. */
  from: number;
  to: number;
  matrix: Float32Array;
}

/** The stretches of a block that get shifted, each with its owner's matrix (unshifted ones left out). */
function krigingPieces(
  firstSample: number,
  nSamples: number,
  segments: ReadonlyArray<{ batch: number; start: number; end: number }>,
  drift: DriftState,
  setup: ProbeSetup,
  params: ShiftParams,
): KrigingPiece[] {
  return shiftedStretches(firstSample, nSamples, segments, drift).map(({ from, to, row }) => ({
    from,
    to,
    matrix: cachedKrigingMatrix(setup, row, drift.yBlockUm, params.krigingSigmaUm),
  }));
}

/** The stretches of a block that get shifted (block rows, half-open) with their owner's dshift row. */
function shiftedStretches(
  firstSample: number,
  nSamples: number,
  segments: ReadonlyArray<{ batch: number; start: number; end: number }>,
  drift: DriftState,
): Array<{ from: number; to: number; row: Float64Array }> {
  const stretches: Array<{ from: number; to: number; row: Float64Array }> = [];
  for (const seg of segments) {
    const row = drift.dshiftUm.subarray(seg.batch * drift.nBlocks, (seg.batch + 1) * drift.nBlocks);
    if (row.every((v) => v === 0)) continue;
    const from = Math.max(0, seg.start - firstSample);
    const to = Math.min(nSamples, seg.end - firstSample);
    if (to <= from) continue;
    stretches.push({ from, to, row });
  }
  return stretches;
}

function applyPieces(
  block: FloatBlock,
  pieces: readonly KrigingPiece[],
  kriging?: Pick<DriftBinding, 'driftApplyKriging'>,
): void {
  const c = block.nChannels;
  for (const p of pieces) {
    const view = block.data.subarray(p.from * c, p.to * c);
    if (kriging) kriging.driftApplyKriging(view, c, p.matrix, view);
    else applyKriging(view, c, p.matrix, view);
  }
}

interface KrigingKey {
  xUm: Float64Array;
  yUm: Float64Array;
  yBlockUm: Float64Array;
  sigmaUm: number;
  row: Float64Array;
}

/** A matrix being solved or solved: both paths share one cache, so no process solves one twice. */
interface CachedKriging extends KrigingKey {
  pending: Promise<Float32Array>;
  /** Set once solved (by either path). */
  matrix?: Float32Array;
}

/**
 * Each batch's block spans its neighbours' halos, so consecutive batches ask for the same matrices
 * (nChannels² solve each); a few recent ones are kept. Hits need identical inputs, so the matrix
 * is the one krigingMatrix would compute. Eight, not fewer: learning visits batches out of order,
 * and its read-ahead asks for the next round's first batches while this round's are still matched.
 * Promises, so that asynchronous requests for a matrix still being solved share its solve.
 */
const KRIGING_CACHE_SIZE = 8;
const krigingCache: CachedKriging[] = [];

/** The kernel's horizontal and vertical length scales (the vertical one is 1.5×). */
function krigingScales(sigmaUm: number): { sigmaXUm: number; sigmaYUm: number } {
  return { sigmaXUm: sigmaUm, sigmaYUm: 1.5 * sigmaUm };
}

function sameKriging(e: KrigingKey, setup: ProbeSetup, row: Float64Array, yBlockUm: Float64Array, sigmaUm: number) {
  return (
    e.xUm === setup.xUm &&
    e.yUm === setup.yUm &&
    e.yBlockUm === yBlockUm &&
    e.sigmaUm === sigmaUm &&
    e.row.length === row.length &&
    e.row.every((v, i) => Object.is(v, row[i]))
  );
}

/** The cached entry for these inputs, or a new one whose solve `solve` starts. */
function krigingEntry(
  setup: ProbeSetup,
  row: Float64Array,
  yBlockUm: Float64Array,
  sigmaUm: number,
  solve: (copy: Float64Array) => Promise<Float32Array>,
): CachedKriging {
  const hit = krigingCache.find((e) => sameKriging(e, setup, row, yBlockUm, sigmaUm));
  if (hit) return hit;
  const copy = Float64Array.from(row);
  const entry: CachedKriging = { xUm: setup.xUm, yUm: setup.yUm, yBlockUm, sigmaUm, row: copy, pending: solve(copy) };
  krigingCache.push(entry);
  if (krigingCache.length > KRIGING_CACHE_SIZE) krigingCache.shift();
  entry.pending.then(
    (matrix) => {
      entry.matrix ??= matrix;
    },
    // A failed solve is not kept: the next request tries again and reports its own error.
    () => {
      const at = krigingCache.indexOf(entry);
      if (at >= 0) krigingCache.splice(at, 1);
    },
  );
  return entry;
}

function cachedKrigingMatrix(
  setup: ProbeSetup,
  row: Float64Array,
  yBlockUm: Float64Array,
  sigmaUm: number,
): Float32Array {
  const solveNow = (copy: Float64Array): Float32Array =>
    krigingMatrix({ xUm: setup.xUm, yUm: setup.yUm }, copy, yBlockUm, krigingScales(sigmaUm)).matrix;
  let solved: Float32Array | undefined;
  const entry = krigingEntry(setup, row, yBlockUm, sigmaUm, (copy) => {
    solved = solveNow(copy);
    return Promise.resolve(solved);
  });
  // Still being solved off the thread: this caller cannot wait, so it solves it too (same bits).
  entry.matrix ??= solved ?? solveNow(entry.row);
  return entry.matrix;
}

function cachedKrigingMatrixAsync(
  setup: ProbeSetup,
  row: Float64Array,
  yBlockUm: Float64Array,
  sigmaUm: number,
): Promise<Float32Array> {
  const entry = krigingEntry(setup, row, yBlockUm, sigmaUm, (copy) =>
    krigingMatrixAsync({ xUm: setup.xUm, yUm: setup.yUm }, copy, yBlockUm, krigingScales(sigmaUm)).then(
      (k) => k.matrix,
    ),
  );
  return entry.matrix !== undefined ? Promise.resolve(entry.matrix) : entry.pending;
}
