// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The raw shape of the native addon. Only native/lib touches these functions directly; the rest
 * of the project uses the typed wrappers exported from native/lib/index.ts.
 *
 * Every entry says [sync] or [async], and what it throws.
 */
import type { PreprocessBinding } from './binding-preprocess.js';
import type { DestripeBinding } from './binding-destripe.js';
import type { DriftBinding } from './binding-drift.js';
import type { MatchingBinding } from './binding-matching.js';
import type { SimulateBinding } from './binding-simulate.js';
import type { PostprocessBinding } from './binding-postprocess.js';
import type { RecordingBinding } from './binding-recording.js';
import type { ExportBinding } from './binding-export.js';

export interface NativeDescription {
  backend: 'cpu' | 'cuda';
  coreVersion: number;
  hardwareThreads: number;
  defaultThreads: number;
}

export interface NativeCpuBinding
  extends
    PreprocessBinding,
    DestripeBinding,
    DriftBinding,
    MatchingBinding,
    SimulateBinding,
    PostprocessBinding,
    RecordingBinding,
    ExportBinding {
  /** [sync] What this build is. */
  describe(): NativeDescription;
  /** [sync] Threads for parallel kernels; 0 = all cores. Throws TypeError on a non-number. */
  setThreads(n: number): void;
  /**
   * [sync] Returns the C heap's free pages to the system (glibc malloc_trim over every arena);
   * true if any were released, false if none were or the C library has no such call.
   */
  trimMemory(): boolean;
  /**
   * [sync] glibc's mallopt(M_MMAP_THRESHOLD, bytes) (which also fixes the threshold); true if
   * applied, false off glibc. Throws RangeError outside [0, 32 MiB] or on a non-integer.
   */
  setMmapThreshold(bytes: number): boolean;
}
