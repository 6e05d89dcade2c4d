// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Backend choice (`--backend cpu|cuda|auto`) and the CUDA backend's typed per-batch entry.
 *
 * The CPU backend is the reference and always present. The CUDA backend runs the per-batch
 * preprocessing (high-pass, common median reference, whitening) and the kriging drift shift on the
 * GPU with results bitwise equal to the CPU's (docs/cuda.md); everything else stays on the CPU.
 */
import type { Logger } from '../../proto/log.js';
import { ParameterError, RunError, expected } from '../../proto/errors.js';
import type {
  NativeCudaBinding,
  NativeCudaDescription,
  NativeFusedMatchResult,
  NativeCudaMatchOptions,
  NativeKrigingPieces,
  NativeProposalArgs,
  NativeShiftBatchArgs,
} from './binding-cuda.js';
import { loadCudaBinding } from './load.js';
import type { FloatBlock, PreprocessBatchOptions, SampleBlock } from './preprocess.js';
import {
  rawMatchOptions,
  type Batch,
  type ChannelNeighbourhoods,
  type MatchOptions,
  type MatchResult,
  type ProposalOptions,
  type ProposalPrototypes,
  type Proposals,
  type TemplateModel,
} from './matching.js';

export type BackendRequest = 'cpu' | 'cuda' | 'auto';
export type BackendName = 'cpu' | 'cuda';

export interface BackendChoice {
  readonly backend: BackendName;
  /** One line saying why, for the log and the run's provenance. */
  readonly reason: string;
  /** Present when backend is 'cuda'. */
  readonly cuda?: NativeCudaBinding;
  readonly device?: NativeCudaDescription['device'];
}

/** One line describing a CUDA device: name, memory, compute capability. */
export function describeCudaDevice(device: NativeCudaDescription['device']): string {
  const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(1);
  return `${device.name} (${gib(device.totalMemoryBytes)} GiB, compute capability ${device.computeCapability}, ${device.multiprocessors} SMs)`;
}

/**
 * Resolves a backend request. 'cpu' is always honoured; 'cuda' throws RunError (with the loader's
 * reason) when the CUDA backend cannot be used; 'auto' takes CUDA when it can be used and the CPU
 * otherwise. The choice and its reason are logged at info level when a logger is given.
 */
export function chooseBackend(requested: BackendRequest, logger?: Logger): BackendChoice {
  if (requested !== 'cpu' && requested !== 'cuda' && requested !== 'auto') {
    throw new ParameterError(`backend: ${expected("'cpu', 'cuda' or 'auto'", requested)}`);
  }
  let choice: BackendChoice;
  if (requested === 'cpu') {
    choice = { backend: 'cpu', reason: 'cpu requested' };
  } else {
    const loaded = loadCudaBinding();
    if (loaded.ok) {
      choice = {
        backend: 'cuda',
        reason: `${requested} requested; CUDA device ${describeCudaDevice(loaded.description.device)}`,
        cuda: loaded.binding,
        device: loaded.description.device,
      };
    } else if (requested === 'cuda') {
      throw new RunError(`backend cuda requested but the CUDA backend cannot be used: ${loaded.reason}`);
    } else {
      choice = { backend: 'cpu', reason: `auto requested; CUDA backend unavailable (${loaded.reason}), using the CPU` };
    }
  }
  logger?.info({ backend: choice.backend, requested }, `backend: ${choice.backend} (${choice.reason})`);
  return choice;
}

/** Rows [from, to) of a block shifted with `matrix` (nChannels², row-major, from krigingMatrix()). */
export interface KrigingStretch {
  from: number;
  to: number;
  matrix: Float32Array;
}

/**
 * The drift shift of a block on the device: one matrix for every row, stretches each with their
 * own matrix (sorted, disjoint; rows outside them unshifted), or none.
 */
export type BlockKriging = Float32Array | readonly KrigingStretch[] | undefined;

/**
 * The per-batch preprocessing of {@link preprocessBatch} followed, when `kriging` is given, by the
 * kriging shift of {@link applyKriging} (on the whole block or per stretch), on the GPU without
 * intermediate copies. Bitwise equal to the CPU chain.
 */
export function cudaPreprocessShiftBatch(
  cuda: Pick<NativeCudaBinding, 'preprocessShiftBatch'>,
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  kriging?: BlockKriging,
): FloatBlock {
  const fn = 'cudaPreprocessShiftBatch';
  const nChannels = raw.nChannels;
  const rowStride = raw.rowStride ?? nChannels;
  if (!Number.isSafeInteger(nChannels) || nChannels < 1) {
    throw new ParameterError(`${fn}: nChannels: ${expected('a positive integer', nChannels)}`);
  }
  if (!Number.isSafeInteger(rowStride) || rowStride < nChannels) {
    throw new ParameterError(`${fn}: rowStride: ${expected(`an integer ≥ nChannels (${nChannels})`, rowStride)}`);
  }
  if (raw.data.length === 0 || raw.data.length % rowStride !== 0) {
    throw new ParameterError(`${fn}: data length: ${expected(`a positive multiple of ${rowStride}`, raw.data.length)}`);
  }
  if (options.whitening.nChannels !== nChannels) {
    throw new ParameterError(`${fn}: whitening channels: ${expected(String(nChannels), options.whitening.nChannels)}`);
  }
  const args = preprocessArgs(raw, options, kriging, rowStride);
  return { data: cuda.preprocessShiftBatch(args), nSamples: args.nSamples, nChannels };
}

function krigingPieces(fn: string, stretches: readonly KrigingStretch[], nChannels: number): NativeKrigingPieces {
  const size = nChannels * nChannels;
  const matrices = new Float32Array(stretches.length * size);
  stretches.forEach((p, i) => {
    if (p.matrix.length !== size) {
      throw new ParameterError(`${fn}: kriging matrix ${i} length: ${expected(String(size), p.matrix.length)}`);
    }
    matrices.set(p.matrix, i * size);
  });
  return {
    rowStart: Int32Array.from(stretches, (p) => p.from),
    rowEnd: Int32Array.from(stretches, (p) => p.to),
    matrices,
  };
}

/** The binding's batch arguments of a raw block, its preprocessing options and its shift. */
export function preprocessArgs(
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  kriging: BlockKriging,
  rowStride: number,
): Parameters<NativeCudaBinding['preprocessShiftBatch']>[0] {
  const fn = 'cudaPreprocessShiftBatch';
  const nChannels = raw.nChannels;
  if (kriging instanceof Float32Array && kriging.length !== nChannels * nChannels) {
    throw new ParameterError(`${fn}: kriging matrix length: ${expected(String(nChannels ** 2), kriging.length)}`);
  }
  return {
    raw: raw.data,
    nSamples: raw.data.length / rowStride,
    nChannels: raw.nChannels,
    rowStride,
    gains: options.gains ?? null,
    good: options.good,
    indices: options.whitening.indices,
    weights: options.whitening.weights,
    nNearest: options.whitening.nNearest,
    order: options.order,
    cutoffHz: options.cutoffHz,
    sampleRateHz: options.sampleRateHz,
    scale: options.scale ?? 1,
    commonReference: options.commonReference ?? true,
    krigingMatrix: kriging instanceof Float32Array ? kriging : null,
    krigingPieces:
      kriging === undefined || kriging instanceof Float32Array ? null : krigingPieces(fn, kriging, nChannels),
  };
}

/**
 * Matching pursuit of one batch on the CUDA device: the CPU `matchBatch` with the same arguments
 * and, by construction, the same results (identical spikes, bitwise equal values; docs/cuda.md).
 * `modelKey` (a positive safe integer naming one unchanging model with its cross-correlations,
 * similar templates and PCs) keeps the model's tables on the device, so later calls with the same
 * key skip their upload; without it the model is uploaded for this call only.
 */
export function cudaMatchBatch(
  cuda: Pick<NativeCudaBinding, 'matchBatch'>,
  batch: Batch,
  model: TemplateModel,
  options: MatchOptions,
  modelKey?: number,
): MatchResult {
  return cuda.matchBatch(batch.samples, batch.nSamples, batch.nChannels, model, keyedOptions(batch, options, modelKey));
}

/**
 * The binding's match options with the device-resident model's key ({@link NativeCudaMatchOptions}):
 * `modelKey` must name one unchanging model (templates, cross-correlations, similar templates, PCs);
 * undefined uploads the model for this call only.
 */
function keyedOptions(
  batch: Pick<Batch, 'haloSamples' | 'ownSamples'>,
  options: MatchOptions,
  modelKey: number | undefined,
): NativeCudaMatchOptions {
  if (modelKey !== undefined && (!Number.isSafeInteger(modelKey) || modelKey < 1)) {
    throw new ParameterError(`modelKey: ${expected('a positive safe integer', modelKey)}`);
  }
  return { ...rawMatchOptions(batch, options), modelKey: modelKey ?? null };
}

/**
 * {@link MatchResult} of the fused entry: the residual only when asked for, and compact snippet
 * sums — `snippetSums` holds the rows (templateSamples × nChannels each) of the templates in
 * `snippetTemplates` only (those with `snippetCounts > 0`, ascending; null unless requested).
 */
export type FusedMatchResult = Omit<MatchResult, 'residual'> & {
  residual: Float32Array | null;
  snippetTemplates: Int32Array | null;
  /** New-template proposals computed on the device residual, when asked for. */
  proposals?: Proposals | null;
};

/**
 * {@link proposeTemplates}'s arguments other than the batch, for the fused learning call: the
 * proposals are computed on the device residual (bitwise the CPU's) and only their snippets come
 * back, so learning needs no residual download. `options.threads` is ignored.
 */
export interface DeviceProposalRequest {
  prototypes: ProposalPrototypes;
  neighbourhoods: ChannelNeighbourhoods;
  options: ProposalOptions;
}

/**
 * The per-batch chain on the device: raw int16 → preprocessing → kriging shift (`kriging`: one
 * matrix or one per stretch) → matching pursuit, with one int16 upload and only the results the
 * caller uses coming back (through pinned staging buffers). `halo` places the batch's own samples
 * (as `Batch.haloSamples` / `ownSamples`); `residual` is null unless `returnResidual`. Bitwise the
 * CPU chain's values (compacted snippet sums: see {@link FusedMatchResult}). `modelKey` keeps the
 * model on the device for later calls with the same key (see {@link cudaMatchBatch}); `proposals`
 * computes new-template proposals on the device residual ({@link DeviceProposalRequest}).
 */
export function cudaPreprocessShiftMatchBatch(
  cuda: Pick<NativeCudaBinding, 'preprocessShiftMatchBatch'>,
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  kriging: BlockKriging,
  halo: Pick<Batch, 'haloSamples' | 'ownSamples'>,
  model: TemplateModel,
  matchOptions: MatchOptions,
  returnResidual = false,
  modelKey?: number,
  proposals?: DeviceProposalRequest,
): FusedMatchResult {
  const args = fusedArgs(
    'cudaPreprocessShiftMatchBatch',
    raw,
    options,
    kriging,
    halo,
    matchOptions,
    modelKey,
    proposals,
  );
  const result: NativeFusedMatchResult = cuda.preprocessShiftMatchBatch(
    args[0],
    model,
    args[1],
    returnResidual,
    args[2],
  );
  return result;
}

/**
 * {@link cudaPreprocessShiftMatchBatch} off the JavaScript thread (a libuv worker): the same
 * checks (bad arguments throw before it returns) and the same result, bitwise. While the device
 * works, the caller prepares the next batch; calls in flight at once run on separate device
 * contexts (streams) while one is free, else wait for one. The arrays passed in must not be modified until the promise settles.
 */
export function cudaPreprocessShiftMatchBatchAsync(
  cuda: Pick<NativeCudaBinding, 'preprocessShiftMatchBatchAsync'>,
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  kriging: BlockKriging,
  halo: Pick<Batch, 'haloSamples' | 'ownSamples'>,
  model: TemplateModel,
  matchOptions: MatchOptions,
  returnResidual = false,
  modelKey?: number,
  proposals?: DeviceProposalRequest,
): Promise<FusedMatchResult> {
  const args = fusedArgs(
    'cudaPreprocessShiftMatchBatchAsync',
    raw,
    options,
    kriging,
    halo,
    matchOptions,
    modelKey,
    proposals,
  );
  return cuda.preprocessShiftMatchBatchAsync(args[0], model, args[1], returnResidual, args[2]);
}

/** The binding's batch, options and proposals arguments of the fused entries, checked. */
function fusedArgs(
  fn: string,
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  kriging: BlockKriging,
  halo: Pick<Batch, 'haloSamples' | 'ownSamples'>,
  matchOptions: MatchOptions,
  modelKey: number | undefined,
  proposals: DeviceProposalRequest | undefined,
): [NativeShiftBatchArgs, NativeCudaMatchOptions, NativeProposalArgs | null] {
  const rowStride = raw.rowStride ?? raw.nChannels;
  if (!Number.isSafeInteger(rowStride) || rowStride < raw.nChannels || raw.data.length % rowStride !== 0) {
    throw new ParameterError(
      `${fn}: rowStride: ${expected(`an integer ≥ nChannels dividing the data length`, rowStride)}`,
    );
  }
  return [
    preprocessArgs(raw, options, kriging, rowStride),
    keyedOptions(halo, matchOptions, modelKey),
    proposals ? proposalArgs(fn, proposals, raw.nChannels) : null,
  ];
}

function proposalArgs(fn: string, p: DeviceProposalRequest, nChannels: number): NativeProposalArgs {
  if (p.neighbourhoods.nChannels !== nChannels) {
    throw new ParameterError(
      `${fn}: proposals.neighbourhoods.nChannels: ${expected(`${nChannels} (the batch's)`, p.neighbourhoods.nChannels)}`,
    );
  }
  return {
    prototypes: p.prototypes.values,
    nPrototypes: p.prototypes.nPrototypes,
    neighbours: p.neighbourhoods.channels,
    nNeighbours: p.neighbourhoods.nNeighbours,
    templateSamples: p.prototypes.templateSamples,
    troughSample: p.options.troughSample,
    neighboursSummed: p.options.neighboursSummed,
    channelRadius: p.options.channelRadius,
    threshold: p.options.threshold,
    maxProposals: p.options.maxProposals,
  };
}
