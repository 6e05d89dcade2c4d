// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's public face: everything outside native/ imports from here. */
export { loadCpuBinding, packageRoot, NativeLoadError } from './load.js';
export type { NativeDescription } from './binding.js';
export { spikeGlxMeta } from './recording/meta-writer.js';
export type { SpikeGlxMetaOptions } from './recording/meta-writer.js';
export type { ProbeType } from './recording/probe-table.js';
