// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw bindings of the CUDA backend (native/src/addon-cuda). The kernels it has carry the CPU
 * binding's names and argument shapes, so native/lib can call either; it adds the fused
 * preprocess-and-shift entry, a micro-benchmark and the device's description.
 *
 * Every function is [sync]. Argument errors are the CPU binding's (TypeError / RangeError naming the
 * field); device failures are Error with CUDA's error name and string (e.g. no device, driver too
 * old, out of memory).
 */
import type { NativeDescription } from './binding.js';
import type { PreprocessBinding } from './binding-preprocess.js';
import type { NativeDestripeArgs } from './binding-destripe.js';
import type { DriftBinding, RawDetectorParams, RawDriftSpikes } from './binding-drift.js';
import type {
  MatchingBinding,
  RawMatchOptions,
  RawMatchResult,
  RawProposals,
  RawTemplateModel,
} from './binding-matching.js';

/** What the CUDA runtime reports about device 0; `available` false comes with a `reason`. */
export interface NativeCudaDevice {
  available: boolean;
  reason: string;
  deviceCount: number;
  name: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  /** "major.minor", e.g. "9.0" for an H100. */
  computeCapability: string;
  multiprocessors: number;
  /** CUDA version the driver supports, 1000·major + 10·minor (0: no driver). */
  driverVersion: number;
  /** CUDA runtime this addon was linked with (statically), same encoding. */
  runtimeVersion: number;
  /** Cap on the device memory the backend's contexts may hold together. */
  maxContextBytes: number;
}

export interface NativeCudaDescription extends Omit<NativeDescription, 'backend'> {
  backend: 'cuda';
  device: NativeCudaDevice;
}

type PreprocessBatchArgs = Parameters<PreprocessBinding['preprocessBatch']>[0];

/**
 * Stretches of a block's rows shifted each with its own kriging matrix: rows [rowStart[i],
 * rowEnd[i]) with `matrices[i · nChannels² …]`; sorted, disjoint; rows outside every stretch stay
 * unshifted.
 */
export interface NativeKrigingPieces {
  rowStart: Int32Array;
  rowEnd: Int32Array;
  /** pieces × nChannels × nChannels, row-major. */
  matrices: Float32Array;
}

/** A raw batch and its shift: one matrix for the whole block, or pieces (not both). */
export type NativeShiftBatchArgs = PreprocessBatchArgs & {
  krigingMatrix: Float32Array | null;
  krigingPieces?: NativeKrigingPieces | null;
};

/**
 * matchBatch's options plus the device-resident model's key: a positive safe integer naming one
 * unchanging model (templates, cross-correlations, similar templates, PCs). Each device context keeps
 * the last keyed model it ran and a call with the same key skips its upload; a key seen with a
 * different model throws. Absent (or null): the model is uploaded for this call only.
 */
export interface NativeCudaMatchOptions extends RawMatchOptions {
  modelKey?: number | null;
}

/** The device-resident model (deviceMemory()). */
export interface NativeResidentModel {
  /** Key of the model on the device in the context that matched last, 0 when none (counts: sums over contexts). */
  residentModelKey: number;
  /** Calls that built and uploaded the model tables (keyed or not) / that reused the resident ones. */
  modelUploads: number;
  modelReuses: number;
  /** Bytes the last call uploaded for the model (0 when it reused it). */
  lastModelUploadBytes: number;
}

/**
 * The fused entry's result: RawMatchResult with compact snippet sums. `snippetSums` holds the rows
 * (templateSamples × nChannels each) of the templates listed in `snippetTemplates` only: those with
 * `snippetCounts > 0`, ascending. `residual` is null unless asked for.
 */
export type NativeFusedMatchResult = Omit<RawMatchResult, 'residual'> & {
  residual: Float32Array | null;
  snippetTemplates: Int32Array | null;
  /** proposeTemplates on the device residual when `proposals` was given, else null. */
  proposals?: RawProposals | null;
};

/**
 * The CPU proposeTemplates's arguments other than the batch, for the fused learning call (the
 * batch's halo and own samples are the match options'); limits of the device kernels: ≤ 64
 * prototypes, templateSamples ≤ 256.
 */
export interface NativeProposalArgs {
  /** templateSamples × nPrototypes */
  prototypes: Float32Array;
  nPrototypes: number;
  /** nChannels × nNeighbours */
  neighbours: Int32Array;
  nNeighbours: number;
  templateSamples: number;
  troughSample: number;
  neighboursSummed: number;
  channelRadius: number;
  threshold: number;
  maxProposals: number;
}

/**
 * destripeBatch's arguments (kfilter and mute false: the device runs only the waveform path's chain)
 * plus the windows of cutWaveforms: `starts` (nWaves), `channels` (nWaves × nRows; nChannels pads a
 * row with NaN), `length` samples each, multiplied by `scale`.
 */
export type NativeDestripeCutArgs = NativeDestripeArgs & {
  starts: Int32Array;
  channels: Int32Array;
  nWaves: number;
  nRows: number;
  length: number;
  scale: number;
};

export interface NativeCudaStageTiming {
  name: string;
  /** Mean device time per batch (CUDA events), ms. */
  ms: number;
  /** Bytes of device memory the stage reads and writes at least once (lower bound of its traffic). */
  bytes: number;
}

export interface NativeCudaBinding
  extends
    Pick<PreprocessBinding, 'highpassBlock' | 'commonMedianReference' | 'applyWhitening' | 'preprocessBatch'>,
    Pick<DriftBinding, 'driftApplyKriging' | 'driftDetectSpikes'>,
    Pick<MatchingBinding, 'matchBatch'> {
  /** [sync] The CPU binding's matchBatch; `options.modelKey` keeps the model on the device. */
  matchBatch(
    samples: Float32Array,
    nSamples: number,
    nChannels: number,
    model: RawTemplateModel,
    options: NativeCudaMatchOptions,
  ): RawMatchResult;
  /** True when preprocessShiftMatchBatch takes `proposals` (a build with device proposals). */
  readonly fusedProposals?: boolean;
  /** [sync] The build and the device; never throws. */
  describe(): NativeCudaDescription;
  /** [sync] Threads of host-side helpers (interface parity with the CPU binding). */
  setThreads(n: number): void;
  /**
   * [sync] preprocessBatch then the kriging shift with `krigingMatrix` (nChannels², row-major; null:
   * no shift) or per stretch with `krigingPieces`, all on the device: one int16 upload and one
   * float download per batch (through pinned staging buffers).
   */
  preprocessShiftBatch(args: NativeShiftBatchArgs): Float32Array;
  /** [sync] Per-stage device times of the fused chain, mean over `repeats` after one warm-up. */
  benchmarkPreprocess(args: NativeShiftBatchArgs & { repeats: number }): {
    repeats: number;
    stages: NativeCudaStageTiming[];
  };
  /**
   * [sync] preprocessShiftBatch then matchBatch on its output (model and options as the CPU
   * binding's matchBatch), without the batch leaving the device: int16 in, only the results the
   * caller uses out. Snippet sums are compact (see NativeFusedMatchResult); `residual` is null
   * unless `returnResidual`. With `proposals`, new-template proposals are computed on the device
   * residual (bitwise the CPU proposeTemplates's) and only their snippets come back.
   */
  preprocessShiftMatchBatch(
    batch: NativeShiftBatchArgs,
    model: RawTemplateModel,
    options: NativeCudaMatchOptions,
    returnResidual: boolean,
    proposals?: NativeProposalArgs | null,
  ): NativeFusedMatchResult;
  /**
   * [async] preprocessShiftMatchBatch off the JavaScript thread: same arguments (checked before it
   * returns; bad ones throw), a promise of the same result. The arrays passed in must not be
   * modified until it settles.
   */
  preprocessShiftMatchBatchAsync(
    batch: NativeShiftBatchArgs,
    model: RawTemplateModel,
    options: NativeCudaMatchOptions,
    returnResidual: boolean,
    proposals?: NativeProposalArgs | null,
  ): Promise<NativeFusedMatchResult>;
  /**
   * [sync] Host-clock stages of preprocessShiftMatchBatch (staging copy into pinned memory, upload,
   * preprocessing + shift kernels, matching kernels, download, copy out of pinned memory, total,
   * model upload), the stream synchronised at each boundary. After an untimed warm-up (model
   * uploaded without a key), `firstStages` times one call with `options.modelKey` (it uploads the
   * model) and `stages` is the mean over `repeats` further calls (with a key they reuse the resident
   * model; without one each uploads it).
   */
  benchmarkPreprocessShiftMatch(
    batch: NativeShiftBatchArgs,
    model: RawTemplateModel,
    options: NativeCudaMatchOptions,
    returnResidual: boolean,
    repeats: number,
  ): {
    repeats: number;
    spikesFound: number;
    stages: NativeCudaStageTiming[];
    firstStages: NativeCudaStageTiming[];
  };
  /** [sync] WtW of `model` computed on the device: bitwise the CPU binding's templateCorrelations(model).crossCorrelation. */
  templateCrossCorrelations(model: RawTemplateModel): Float32Array;
  /** [sync] Per-stage device times of matchBatch (CUDA events), mean over `repeats` after one warm-up. */
  benchmarkMatch(
    samples: Float32Array,
    nSamples: number,
    nChannels: number,
    model: RawTemplateModel,
    options: RawMatchOptions,
    repeats: number,
  ): { repeats: number; spikesFound: number; iterations: number; stages: NativeCudaStageTiming[] };
  /**
   * [sync] preprocessBatch (no drift shift) then driftDetectSpikes on its output, without the
   * whitened block leaving the device: int16 in, spikes out. Same spikes and bitwise values as the
   * CPU's preprocessBatch + driftDetectSpikes; `params` as driftDetectSpikes' (own range relative to
   * the batch's first row). Device limits: nt0 ≤ 256.
   */
  preprocessDriftDetectSpikes(
    batch: PreprocessBatchArgs,
    xUm: Float64Array,
    yUm: Float64Array,
    wTemp: Float32Array,
    params: RawDetectorParams,
  ): RawDriftSpikes;
  /** [async] preprocessDriftDetectSpikes off the JavaScript thread: same arguments (checked before it returns), a promise of the same result. */
  preprocessDriftDetectSpikesAsync(
    batch: PreprocessBatchArgs,
    xUm: Float64Array,
    yUm: Float64Array,
    wTemp: Float32Array,
    params: RawDetectorParams,
  ): Promise<RawDriftSpikes>;
  /**
   * [sync] The CPU binding's destripeBatch on the device, bitwise equal, for IBL's waveform path only:
   * `kfilter` and `mute` must be false (RangeError otherwise); nSaturated is 0.
   */
  destripeBatch(args: NativeDestripeArgs): { data: Float32Array; nSaturated: number };
  /**
   * [sync] cutWaveforms(destripeBatch(args), windows, scale) without the block leaving the device: the
   * raw chunk in, only the nWaves × nRows × length waveforms out, bitwise the CPU's.
   */
  destripeCutWaveforms(args: NativeDestripeCutArgs): Float32Array;
  /** [async] destripeCutWaveforms off the JavaScript thread: same arguments (checked before it returns), a promise of the same result. */
  destripeCutWaveformsAsync(args: NativeDestripeCutArgs): Promise<Float32Array>;
  /** [sync] Device memory held by the backend's contexts (grow-only buffers reused between calls; sums). */
  deviceMemory(): { bytesInUse: number; maxBytes: number } & NativeResidentModel;
  /** [sync] Frees every context's device buffers (the resident models with them). */
  releaseDeviceMemory(): void;
}
