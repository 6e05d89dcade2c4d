// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's public face: everything outside native/ imports from here. */
export { loadCpuBinding, packageRoot, NativeLoadError } from './load.js';
export type { NativeDescription } from './binding.js';
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
} from './simulate.js';
export type { SimChunkSetup, SimTableGrid } from './simulate.js';
