// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Classic Kilosort 2.5 drift correction ("datashift2", docs/ks25-algorithm.md §3.2–§3.3) and the
 * prototype waveforms (§4.1), on the CPU reference backend.
 *
 * Data flow of a sharded run:
 *  1. workers: `findIsolatedSnippets` on every 5th batch → the coordinator pools the snippets and
 *     calls `learnPrototypes` once (wTEMP for detection);
 *  2. workers: `detectDriftSpikes` + `driftHistogram` per batch → histograms to the coordinator;
 *  3. coordinator: `registerDrift` over all histograms → dshift (batches × blocks), yBlockUm;
 *  4. workers: `krigingMatrix` for the batch's own dshift row, `applyKriging` to the batch (and
 *     each halo with its own batch's row).
 *
 * Blocks are Float32Array sample-major (`x[t * nChannels + c]`), whitened (unit noise); sample
 * indices are relative to the block. All calls are synchronous and use the threads set with
 * `setThreads`; results do not depend on the thread count. Invalid arguments throw TypeError or
 * RangeError from the native side, naming the argument.
 */
import type { RawDetectorParams } from './binding-drift.js';
import { loadCpuBinding } from './load.js';

/** Channel positions, one per channel, µm. */
export interface DriftProbe {
  xUm: Float64Array;
  yUm: Float64Array;
}

// ------------------------------------------------------------------------------------------------
// Prototype waveforms
// ------------------------------------------------------------------------------------------------

/** Isolated-peak search (KS2.5 `spkTh`, `loc_range`, `long_range`). */
export interface IsolatedSnippetOptions {
  /** A peak must be below this (whitened units). @default -6 */
  threshold?: number;
  /** Half-widths of the local-minimum box. @default 5 samples, 4 channel indices */
  localSamples?: number;
  localChannels?: number;
  /** Half-widths of the box in which no other peak may lie. @default 30 samples, 6 channel indices */
  isolationSamples?: number;
  isolationChannels?: number;
  /** Snippet length; peaks closer than this to either block end are skipped. @default 61 */
  nt0?: number;
  /** 0-based index of the trough within a snippet (nt0min − 1). @default 19 */
  troughIndex?: number;
  /** Only peaks with ownBeginSample ≤ sample < ownEndSample are returned. @default the whole block */
  ownBeginSample?: number;
  ownEndSample?: number;
}

/** Isolated peaks (ordered by sample, then channel) and their snippets (n × nt0, row-major). */
export interface IsolatedSnippets {
  samples: Int32Array;
  channels: Int32Array;
  values: Float32Array;
  snippets: Float32Array;
}

/** Isolated negative peaks of one block and their single-channel snippets, trough at `troughIndex`. */
export function findIsolatedSnippets(
  data: Float32Array,
  nChannels: number,
  options: IsolatedSnippetOptions = {},
): IsolatedSnippets {
  const nSamples = nChannels > 0 ? Math.floor(data.length / nChannels) : 0;
  return loadCpuBinding().driftFindIsolatedSnippets(data, nChannels, {
    threshold: options.threshold ?? -6,
    localSamples: options.localSamples ?? 5,
    localChannels: options.localChannels ?? 4,
    isolationSamples: options.isolationSamples ?? 30,
    isolationChannels: options.isolationChannels ?? 6,
    nt0: options.nt0 ?? 61,
    troughIndex: options.troughIndex ?? 19,
    ownBeginSample: options.ownBeginSample ?? 0,
    ownEndSample: options.ownEndSample ?? nSamples,
  });
}

export interface PrototypeOptions {
  /** Samples per snippet. @default 61 */
  nt0?: number;
  /** nPCs: 3 for classic datashift, 6 for template learning. @default 3 */
  nPrototypes?: number;
  /** k-means iterations. @default 10 */
  iterations?: number;
  /** SplitMix64 seed of the initial prototypes (a safe integer ≥ 0). @default 42 */
  seed?: number;
  /** Where wPca column 0 is made negative (the trough). @default 19 */
  troughIndex?: number;
}

/** Prototype waveforms, each `nt0 × nPrototypes` row-major (`w[t * nPrototypes + r]`). */
export interface Prototypes {
  nt0: number;
  nPrototypes: number;
  /** Correlation k-means centroids, unit norm. */
  wTemp: Float32Array;
  /** Leading left singular vectors of the snippet matrix, orthonormal, column 0 negative at the trough. */
  wPca: Float32Array;
  singularValues: Float64Array;
  /** Snippets assigned to each wTemp prototype in the last iteration. */
  clusterSizes: Float64Array;
}

/** Learns wTEMP and wPCA from a pool of snippets (n × nt0, row-major, gathered over batches). */
export function learnPrototypes(snippets: Float32Array, options: PrototypeOptions = {}): Prototypes {
  const nt0 = options.nt0 ?? 61;
  const nPrototypes = options.nPrototypes ?? 3;
  const raw = loadCpuBinding().driftLearnPrototypes(snippets, nt0, {
    nPrototypes,
    iterations: options.iterations ?? 10,
    seed: options.seed ?? 42,
    troughIndex: options.troughIndex ?? 19,
  });
  return { nt0, nPrototypes, ...raw };
}

// ------------------------------------------------------------------------------------------------
// Detection and histograms
// ------------------------------------------------------------------------------------------------

/** The generic-template detector ("spikedetector3"). */
export interface DriftDetectorOptions {
  /** First sample (block-relative) this batch owns; spikes are attributed by trough sample. @default 0 */
  ownBeginSample?: number;
  /** End (exclusive) of the owned range. @default the block length */
  ownEndSample?: number;
  /** Spikes kept (the earliest); `found` reports how many there were. @default 10000 */
  capacity?: number;
  /** genericSpkTh: a spike needs a score above threshold². @default 8 */
  threshold?: number;
  /** Template length; the trough sits at nt0min − 1. @default 61, 20 */
  nt0?: number;
  nt0min?: number;
  /** Channels combined per virtual centre. @default 10 */
  nearestChannels?: number;
  /** Gaussian spatial sizes sizeStepUm·(k+1), k < spatialSizes. @default 5, 10 µm */
  spatialSizes?: number;
  sizeStepUm?: number;
  /** x spacing of the virtual centres. @default 16 µm */
  centreXStepUm?: number;
  /** Centres farther than this from every site are dropped (MATLAB's value). @default 30 µm */
  centreMaxSiteDistanceUm?: number;
  /** Spatial local maximum among centres within this radius ... @default 100 µm */
  neighbourRadiusUm?: number;
  /** ... limited to the nearest ones. @default 100 */
  maxNeighbours?: number;
  /** Temporal local maximum over this window. @default 40 samples */
  windowSamples?: number;
}

/** Spikes of one batch, ordered by sample then centre. */
export interface DriftSpikes {
  /** Trough sample, block-relative. */
  samples: Int32Array;
  centres: Int32Array;
  depthsUm: Float32Array;
  /** √score, whitened units (≥ threshold). */
  amplitudes: Float32Array;
  /** Spikes found in the owned range before the capacity cut. */
  found: number;
}

/**
 * The binding's detector parameters for a block of `nSamples` samples: the options with their
 * defaults (shared by the CPU and the CUDA detector, so both detect with the same settings).
 */
export function driftDetectorParams(options: DriftDetectorOptions, nSamples: number): RawDetectorParams {
  return {
    nt0: options.nt0 ?? 61,
    nt0min: options.nt0min ?? 20,
    threshold: options.threshold ?? 8,
    nearestChannels: options.nearestChannels ?? 10,
    spatialSizes: options.spatialSizes ?? 5,
    sizeStepUm: options.sizeStepUm ?? 10,
    centreXStepUm: options.centreXStepUm ?? 16,
    centreMaxSiteDistanceUm: options.centreMaxSiteDistanceUm ?? 30,
    neighbourRadiusUm: options.neighbourRadiusUm ?? 100,
    maxNeighbours: options.maxNeighbours ?? 100,
    windowSamples: options.windowSamples ?? 40,
    ownBeginSample: options.ownBeginSample ?? 0,
    ownEndSample: options.ownEndSample ?? nSamples,
    capacity: options.capacity ?? 10000,
  };
}

/** Detects spikes with the generic templates `wTemp` (nt0 × nPrototypes) in one whitened block. */
export function detectDriftSpikes(
  data: Float32Array,
  nChannels: number,
  probe: DriftProbe,
  wTemp: Float32Array,
  options: DriftDetectorOptions = {},
): DriftSpikes {
  const nSamples = nChannels > 0 ? Math.floor(data.length / nChannels) : 0;
  return loadCpuBinding().driftDetectSpikes(
    data,
    nChannels,
    probe.xUm,
    probe.yUm,
    wTemp,
    driftDetectorParams(options, nSamples),
  );
}

/** Histogram grid: depth bins from min(y) − 1, log-spaced amplitude bins. */
export interface DriftHistogramOptions {
  /** @default 5 µm */
  binUm?: number;
  /** @default 20 */
  ampBins?: number;
  /** Amplitude bins span log10 [ampMin, ampMax); amplitudes are clipped to ampClip. @default 8, 100, 99 */
  ampMin?: number;
  ampMax?: number;
  ampClip?: number;
}

/** One batch's histogram: `depthBins × ampBins` row-major, log2(1 + counts). */
export interface DriftHistogram {
  histogram: Float32Array;
  depthBins: number;
  ampBins: number;
  /** Depth bin i covers (originUm + binUm·i, originUm + binUm·(i+1)]. */
  originUm: number;
  /** Spikes counted (those with depths inside the grid). */
  counted: number;
}

function histogramParams(options: DriftHistogramOptions): {
  binUm: number;
  ampBins: number;
  ampMin: number;
  ampMax: number;
  ampClip: number;
} {
  return {
    binUm: options.binUm ?? 5,
    ampBins: options.ampBins ?? 20,
    ampMin: options.ampMin ?? 8,
    ampMax: options.ampMax ?? 100,
    ampClip: options.ampClip ?? 99,
  };
}

/** The drift histogram of one batch's spikes (a pure function: workers can return it). */
export function driftHistogram(
  spikes: Pick<DriftSpikes, 'depthsUm' | 'amplitudes'>,
  probe: Pick<DriftProbe, 'yUm'>,
  options: DriftHistogramOptions = {},
): DriftHistogram {
  return loadCpuBinding().driftHistogram(spikes.depthsUm, spikes.amplitudes, probe.yUm, histogramParams(options));
}

// ------------------------------------------------------------------------------------------------
// Registration (global)
// ------------------------------------------------------------------------------------------------

export interface DriftRegistrationOptions extends DriftHistogramOptions {
  /** Rigid passes; shifts are applied in all but the last. @default 10 */
  rigidIterations?: number;
  /** @default 15 bins (±75 µm) */
  rigidMaxShiftBins?: number;
  /** 2·nBlocks − 1 overlapping blocks. @default 5 */
  nBlocks?: number;
  /** @default 5 bins */
  blockMaxShiftBins?: number;
  /** Gaussian σ over batches, blocks and shifts. @default 0.5 */
  smoothSigma?: number;
  /** Sub-bin resolution and kernel σ of the upsampled correlation. @default 0.1, 1 bin */
  upsampleStepBins?: number;
  upsampleSigmaBins?: number;
}

/** Per-batch, per-block drift estimate. */
export interface DriftRegistration {
  nBatches: number;
  nBlocks: number;
  /** `nBatches × nBlocks` row-major, µm: minus the displacement relative to the final target. */
  dshiftUm: Float64Array;
  /** Block centre depths, µm. */
  yBlockUm: Float64Array;
  rigidShiftBins: Int32Array;
  /** The batch used as the first target: 0-based min(300, ⌊N/2⌋) − 1 (MATLAB's batch), at least 0. */
  targetBatch: number;
}

/**
 * Registers all batches' histograms (`nBatches` consecutive `driftHistogram` outputs, same grid).
 * Runs on the coordinator: ≈ 0.5–1 s for 274 batches on one core.
 */
export function registerDrift(
  histograms: Float32Array,
  nBatches: number,
  probe: Pick<DriftProbe, 'yUm'>,
  options: DriftRegistrationOptions = {},
): DriftRegistration {
  const raw = loadCpuBinding().driftRegister(histograms, nBatches, probe.yUm, {
    ...histogramParams(options),
    rigidIterations: options.rigidIterations ?? 10,
    rigidMaxShiftBins: options.rigidMaxShiftBins ?? 15,
    nBlocks: options.nBlocks ?? 5,
    blockMaxShiftBins: options.blockMaxShiftBins ?? 5,
    smoothSigma: options.smoothSigma ?? 0.5,
    upsampleStepBins: options.upsampleStepBins ?? 0.1,
    upsampleSigmaBins: options.upsampleSigmaBins ?? 1,
  });
  return { nBatches, ...raw };
}

/** The dshift row of one batch (a view, no copy). */
export function dshiftRow(registration: DriftRegistration, batch: number): Float64Array {
  const n = registration.nBlocks;
  return registration.dshiftUm.subarray(batch * n, (batch + 1) * n);
}

// ------------------------------------------------------------------------------------------------
// Shift application (kriging)
// ------------------------------------------------------------------------------------------------

export interface KrigingOptions {
  /** Laplacian kernel scales. @default 20 µm (sig_datashift), 30 µm */
  sigmaXUm?: number;
  sigmaYUm?: number;
  /** Added to the diagonal of Kxx. @default 0.01 */
  ridge?: number;
}

export interface KrigingMatrix {
  /** `nChannels × nChannels` row-major: out[t, i] = Σ_j matrix[i, j] · data[t, j]. */
  matrix: Float32Array;
  /** Per-channel shift, µm (Akima interpolation of the dshift row over yBlockUm). */
  channelShiftUm: Float64Array;
}

/** The kriging matrix of one batch, from its dshift row (see `dshiftRow`). */
export function krigingMatrix(
  probe: DriftProbe,
  dshiftRowUm: Float64Array,
  yBlockUm: Float64Array,
  options: KrigingOptions = {},
): KrigingMatrix {
  return loadCpuBinding().driftKrigingMatrix(probe.xUm, probe.yUm, dshiftRowUm, yBlockUm, krigingParams(options));
}

/**
 * {@link krigingMatrix} computed off the JavaScript thread (the same matrix). The arrays must not
 * change until the promise settles.
 */
export async function krigingMatrixAsync(
  probe: DriftProbe,
  dshiftRowUm: Float64Array,
  yBlockUm: Float64Array,
  options: KrigingOptions = {},
): Promise<KrigingMatrix> {
  return loadCpuBinding().driftKrigingMatrixAsync(probe.xUm, probe.yUm, dshiftRowUm, yBlockUm, krigingParams(options));
}

function krigingParams(options: KrigingOptions) {
  return { sigmaXUm: options.sigmaXUm ?? 20, sigmaYUm: options.sigmaYUm ?? 30, ridge: options.ridge ?? 0.01 };
}

/**
 * Applies a kriging matrix to a block: out = data · matrixᵀ. Writes into `out` (which may be
 * `data` itself for an in-place shift) or a new array, and returns it.
 */
export function applyKriging(
  data: Float32Array,
  nChannels: number,
  matrix: Float32Array,
  out: Float32Array = new Float32Array(data.length),
): Float32Array {
  loadCpuBinding().driftApplyKriging(data, nChannels, matrix, out);
  return out;
}
