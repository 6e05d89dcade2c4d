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
import type { NativeCudaBinding, NativeCudaDescription } from './binding-cuda.js';
import { loadCudaBinding } from './load.js';
import type { FloatBlock, PreprocessBatchOptions, SampleBlock } from './preprocess.js';
import { rawMatchOptions, type Batch, type MatchOptions, type MatchResult, type TemplateModel } from './matching.js';

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

/**
 * The per-batch preprocessing of {@link preprocessBatch} followed, when `krigingMatrix` is given,
 * by the kriging shift of {@link applyKriging}, on the GPU without intermediate copies. Bitwise
 * equal to the CPU chain. @param krigingMatrix nChannels² row-major (from krigingMatrix()).
 */
export function cudaPreprocessShiftBatch(
  cuda: Pick<NativeCudaBinding, 'preprocessShiftBatch'>,
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  krigingMatrix?: Float32Array,
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
  if (krigingMatrix !== undefined && krigingMatrix.length !== nChannels * nChannels) {
    throw new ParameterError(`${fn}: kriging matrix length: ${expected(String(nChannels ** 2), krigingMatrix.length)}`);
  }
  const args = preprocessArgs(raw, options, krigingMatrix, rowStride);
  return { data: cuda.preprocessShiftBatch(args), nSamples: args.nSamples, nChannels };
}

function preprocessArgs(
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  krigingMatrix: Float32Array | undefined,
  rowStride: number,
): Parameters<NativeCudaBinding['preprocessShiftBatch']>[0] {
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
    krigingMatrix: krigingMatrix ?? null,
  };
}

/**
 * Matching pursuit of one batch on the CUDA device: the CPU `matchBatch` with the same arguments
 * and, by construction, the same results (identical spikes, bitwise equal values; docs/cuda.md).
 */
export function cudaMatchBatch(
  cuda: NativeCudaBinding,
  batch: Batch,
  model: TemplateModel,
  options: MatchOptions,
): MatchResult {
  return cuda.matchBatch(batch.samples, batch.nSamples, batch.nChannels, model, rawMatchOptions(batch, options));
}

/**
 * The per-batch chain on the device: raw int16 → preprocessing → kriging shift (when
 * `krigingMatrix` is given) → matching pursuit, with one int16 upload and only the match results
 * coming back. `halo` places the batch's own samples (as `Batch.haloSamples` / `ownSamples`);
 * `residual` is null unless `returnResidual`.
 */
export function cudaPreprocessShiftMatchBatch(
  cuda: NativeCudaBinding,
  raw: SampleBlock<Int16Array>,
  options: PreprocessBatchOptions,
  krigingMatrix: Float32Array | undefined,
  halo: Pick<Batch, 'haloSamples' | 'ownSamples'>,
  model: TemplateModel,
  matchOptions: MatchOptions,
  returnResidual = false,
): Omit<MatchResult, 'residual'> & { residual: Float32Array | null } {
  const fn = 'cudaPreprocessShiftMatchBatch';
  const rowStride = raw.rowStride ?? raw.nChannels;
  if (!Number.isSafeInteger(rowStride) || rowStride < raw.nChannels || raw.data.length % rowStride !== 0) {
    throw new ParameterError(
      `${fn}: rowStride: ${expected(`an integer ≥ nChannels dividing the data length`, rowStride)}`,
    );
  }
  return cuda.preprocessShiftMatchBatch(
    preprocessArgs(raw, options, krigingMatrix, rowStride),
    model,
    rawMatchOptions(halo, matchOptions),
    returnResidual,
  );
}
