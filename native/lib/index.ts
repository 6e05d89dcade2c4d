// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's public face: everything outside native/ imports from here. */
export { loadCpuBinding, packageRoot, NativeLoadError } from './load.js';
export type { NativeDescription } from './binding.js';
export {
  findIsolatedSnippets,
  learnPrototypes,
  detectDriftSpikes,
  driftHistogram,
  registerDrift,
  dshiftRow,
  krigingMatrix,
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
