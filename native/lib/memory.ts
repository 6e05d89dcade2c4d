// SPDX-License-Identifier: GPL-3.0-or-later
/** The process's C heap. */
import { loadCpuBinding } from './load.js';

/**
 * Hands the C heap's free pages back to the system (glibc's malloc_trim, over every arena).
 * glibc keeps the memory of freed blocks for reuse, so after a step that allocated and freed
 * hundreds of MB (typed arrays, a pool of worker threads with an arena each) the process's RSS
 * stays at the step's peak until exit, and the next step's peak adds to it. Costs milliseconds;
 * changes no result. Returns true if pages were released; false if none were, or off glibc.
 */
export function releaseFreedMemory(): boolean {
  return loadCpuBinding().trimMemory();
}
