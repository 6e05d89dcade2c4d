// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's public face: everything outside native/ imports from here. */
export { loadCpuBinding, packageRoot, NativeLoadError } from './load.js';
export { loadCudaBinding } from './load.js';
export {
  releaseFreedMemory,
  fixMmapThreshold,
  describeHeapPolicy,
  heapPolicyFromEnv,
  DEFAULT_MMAP_THRESHOLD_BYTES,
  type HeapPolicy,
} from './memory.js';
export type { CudaLoadResult } from './load.js';
export type {
  NativeCudaBinding,
  NativeCudaDescription,
  NativeCudaDevice,
  NativeCudaStageTiming,
} from './binding-cuda.js';
export {
  chooseBackend,
  cudaMatchBatch,
  cudaPreprocessShiftBatch,
  cudaPreprocessShiftMatchBatch,
  cudaPreprocessShiftMatchBatchAsync,
  describeCudaDevice,
} from './backend.js';
export type { BackendChoice, BackendName, BackendRequest } from './backend.js';
export type { BlockKriging, FusedMatchResult, KrigingStretch } from './backend.js';
export type { NativeDescription } from './binding.js';
export { spikeGlxMeta } from './recording/meta-writer.js';
export type { SpikeGlxMetaOptions } from './recording/meta-writer.js';
export type { ProbeType } from './recording/probe-table.js';
export { openRecording, inspectRecording, Recording } from './recording/recording.js';
export type { RecordingInfo, OpenRecordingOptions, HaloRead } from './recording/recording.js';
export { discoverSession, recordingFiles } from './recording/session.js';
export { CbinReader, compressBin, readMtscompHeader, verifyCbin, chPathOf } from './recording/mtscomp.js';
export type { MtscompHeader, CompressOptions, CbinVerification, CbinReaderOptions } from './recording/mtscomp.js';
export type { Session, SessionProbe, DiscoverOptions } from './recording/session.js';
export { sortingPositions, geometryExtent } from './recording/geometry.js';
export type { ProbeGeometry, GeometrySource, GeometryExtent } from './recording/geometry.js';
export { readSpikeGlxMeta, parseSpikeGlxMeta, metaTable } from './recording/meta-file.js';
export type { SpikeGlxMeta, MetaTable } from './recording/meta-file.js';
export { spikeGlxLayout } from './recording/spikeglx.js';
export { plainLayout } from './recording/plain-format.js';
export type { PlainRecordingDescription } from './recording/plain-format.js';
export type { RecordingLayout } from './recording/layout.js';
export {
  ChannelLabel,
  applyWhitening,
  badChannelFeatures,
  butterworthHighpassSos,
  channelCovariance,
  channelLabelMode,
  commonMedianReference,
  goodChannelMask,
  highpass,
  labelBadChannels,
  localWhitening,
  preprocessBatch,
  whiteningCovariance,
  whiteningInverse,
} from './preprocess.js';
export type {
  BadChannelFeatures,
  BadChannelOptions,
  BadChannelThresholds,
  FloatBlock,
  HighpassOptions,
  LocalWhitening,
  LocalWhiteningOptions,
  PreprocessBatchOptions,
  SampleBlock,
} from './preprocess.js';
export {
  findIsolatedSnippets,
  learnPrototypes,
  detectDriftSpikes,
  driftHistogram,
  registerDrift,
  dshiftRow,
  krigingMatrix,
  krigingMatrixAsync,
  applyKriging,
} from './drift.js';
export type {
  DriftProbe,
  IsolatedSnippetOptions,
  IsolatedSnippets,
  PrototypeOptions,
  Prototypes,
  DriftDetectorOptions,
  DriftSpikes,
  DriftHistogramOptions,
  DriftHistogram,
  DriftRegistrationOptions,
  DriftRegistration,
  KrigingOptions,
  KrigingMatrix,
} from './drift.js';
export {
  nearestChannels,
  peakChannels,
  factorizeTemplates,
  templateCorrelations,
  templateSimilarity,
  zeroLagSimilarity,
  poolRunningMeans,
  selectBirths,
  triageTemplates,
  matchBatch,
  proposeTemplates,
  DEFAULT_FACTORIZE_OPTIONS,
  DEFAULT_CORRELATION_OPTIONS,
  DEFAULT_MATCH_OPTIONS,
  DEFAULT_PROPOSAL_OPTIONS,
} from './matching.js';
export type {
  Option,
  TemplateModel,
  ChannelNeighbourhoods,
  MeanWaveforms,
  MeanWaveformRows,
  FactorizeOptions,
  SimilarTemplates,
  TemplateCorrelations,
  CorrelationOptions,
  Batch,
  TemporalPcs,
  MatchOptions,
  MatchResult,
  ProposalPrototypes,
  ProposalOptions,
  Proposals,
  SelectBirthsOptions,
  Births,
  TriageOptions,
} from './matching.js';
export * from './engine/index.js';
export {
  SIM_CHANNEL,
  SIM_LFP_FIELDS,
  SIM_MAX_LFP_SOURCES,
  SIM_PINK_POLES,
  SIM_SHAPE,
  SIM_SPIKE,
  simBuildTables,
  simHighpass,
  simInitState,
  simRenderSpikes,
  simSpikeBandRms,
  simSynthesizeChunk,
  simTableFloats,
  simTableRowFloats,
} from './simulate.js';
export type { SimChunkSetup, SimTableGrid } from './simulate.js';
export {
  bimodalPursuitRows,
  projectRows,
  runningMeanRows,
  solveLinearSystem,
  splitPursuit,
  weightedGram,
} from './postprocess.js';
export type { BimodalFit, SplitPursuit, WeightedGram } from './postprocess.js';
export { destripeBatch, adcSampleShift, adcFullScaleCounts, agcWindowSamples } from './destripe.js';
export type { DestripeOptions, DestripedBlock } from './destripe.js';
export { cutWaveforms, waveformMedians, toFloat16Bits } from './destripe.js';
export { finishIblWaveformsAsync, type IblWaveformFinish } from './destripe.js';
export type { WaveformWindows } from './destripe.js';
export { cudaDestripeBatch, cudaDestripeCutWaveforms, cudaDestripeCutWaveformsAsync } from './destripe-cuda.js';
export { jacobiPseudoInverse, multiplyFloat32Rows, templatePeakToPeak } from './export.js';
export type { JacobiPseudoInverse, TemplatePeakToPeak } from './export.js';
