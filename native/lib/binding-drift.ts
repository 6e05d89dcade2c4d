// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw bindings of the drift area of the native core (native/src/addon/drift.cc): classic Kilosort
 * 2.5 drift correction ("datashift2") and the prototype waveforms. Use the typed wrappers of
 * native/lib/drift.ts instead.
 *
 * All entries are [sync]. Each is one batch-sized kernel that already spreads its work over the
 * threads set by `setThreads`, so an async worker would only free the event loop, not add
 * throughput; the worker process runs them between its RPCs (a batch detector call takes about a
 * second). Results are bitwise independent of the thread count.
 *
 * Conventions: blocks are Float32Array sample-major (`x[t * nChannels + c]`), whitened; positions
 * are µm (Float64Array, one per channel); sample indices are block-relative. Parameter objects must
 * carry every property. Every entry throws TypeError on a wrong type (argument or property) and
 * RangeError on a wrong size or value, naming the argument and what was expected.
 */

export interface RawIsolatedSnippetParams {
  threshold: number;
  localSamples: number;
  localChannels: number;
  isolationSamples: number;
  isolationChannels: number;
  nt0: number;
  troughIndex: number;
  ownBeginSample: number;
  ownEndSample: number;
}

export interface RawIsolatedSnippets {
  samples: Int32Array;
  channels: Int32Array;
  values: Float32Array;
  snippets: Float32Array;
}

export interface RawPrototypeParams {
  nPrototypes: number;
  iterations: number;
  seed: number;
  troughIndex: number;
}

export interface RawPrototypes {
  wTemp: Float32Array;
  wPca: Float32Array;
  singularValues: Float64Array;
  clusterSizes: Float64Array;
}

export interface RawDetectorParams {
  nt0: number;
  nt0min: number;
  threshold: number;
  nearestChannels: number;
  spatialSizes: number;
  sizeStepUm: number;
  centreXStepUm: number;
  centreMaxSiteDistanceUm: number;
  neighbourRadiusUm: number;
  maxNeighbours: number;
  windowSamples: number;
  ownBeginSample: number;
  ownEndSample: number;
  capacity: number;
}

export interface RawDriftSpikes {
  samples: Int32Array;
  centres: Int32Array;
  depthsUm: Float32Array;
  amplitudes: Float32Array;
  found: number;
}

export interface RawHistogramParams {
  binUm: number;
  ampBins: number;
  ampMin: number;
  ampMax: number;
  ampClip: number;
}

export interface RawDriftHistogram {
  histogram: Float32Array;
  depthBins: number;
  ampBins: number;
  originUm: number;
  counted: number;
}

export interface RawRegistrationParams extends RawHistogramParams {
  rigidIterations: number;
  rigidMaxShiftBins: number;
  nBlocks: number;
  blockMaxShiftBins: number;
  smoothSigma: number;
  upsampleStepBins: number;
  upsampleSigmaBins: number;
}

export interface RawRegistration {
  dshiftUm: Float64Array;
  yBlockUm: Float64Array;
  rigidShiftBins: Int32Array;
  targetBatch: number;
  nBlocks: number;
}

export interface RawKrigingParams {
  sigmaXUm: number;
  sigmaYUm: number;
  ridge: number;
}

export interface RawKrigingMatrix {
  matrix: Float32Array;
  channelShiftUm: Float64Array;
}

export interface DriftBinding {
  /** [sync] Isolated negative peaks of a block and their single-channel snippets. */
  driftFindIsolatedSnippets(
    data: Float32Array,
    nChannels: number,
    params: RawIsolatedSnippetParams,
  ): RawIsolatedSnippets;
  /** [sync] Correlation k-means prototypes (wTEMP) and principal components (wPCA) of a snippet pool. */
  driftLearnPrototypes(snippets: Float32Array, nt0: number, params: RawPrototypeParams): RawPrototypes;
  /** [sync] Generic-template spike detection in one block (own range only). */
  driftDetectSpikes(
    data: Float32Array,
    nChannels: number,
    xUm: Float64Array,
    yUm: Float64Array,
    wTemp: Float32Array,
    params: RawDetectorParams,
  ): RawDriftSpikes;
  /** [sync] Depth × log-amplitude histogram, log2(1 + counts). */
  driftHistogram(
    depthsUm: Float32Array,
    amplitudes: Float32Array,
    yUm: Float64Array,
    params: RawHistogramParams,
  ): RawDriftHistogram;
  /** [sync] Rigid + non-rigid registration of all batches' histograms. */
  driftRegister(
    histograms: Float32Array,
    nBatches: number,
    yUm: Float64Array,
    params: RawRegistrationParams,
  ): RawRegistration;
  /** [sync] Kriging matrix of one batch from its dshift row. */
  driftKrigingMatrix(
    xUm: Float64Array,
    yUm: Float64Array,
    dshiftRowUm: Float64Array,
    yBlockUm: Float64Array,
    params: RawKrigingParams,
  ): RawKrigingMatrix;
  /** [async] {@link driftKrigingMatrix} off the JavaScript thread. */
  driftKrigingMatrixAsync(
    xUm: Float64Array,
    yUm: Float64Array,
    dshiftRowUm: Float64Array,
    yBlockUm: Float64Array,
    params: RawKrigingParams,
  ): Promise<RawKrigingMatrix>;
  /** [sync] out = data · Mᵀ; `out` may be `data` itself (in place) but must not partially overlap it. */
  driftApplyKriging(data: Float32Array, nChannels: number, matrix: Float32Array, out: Float32Array): void;
}
