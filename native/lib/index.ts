// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's public face: everything outside native/ imports from here. */
export { loadCpuBinding, packageRoot, NativeLoadError } from './load.js';
export type { NativeDescription } from './binding.js';
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
