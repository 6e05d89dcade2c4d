// SPDX-License-Identifier: GPL-3.0-or-later
/** The process's C heap. */
import { ParameterError, expected } from '../../proto/errors.js';
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

/** The engine's fixed glibc mmap threshold: blocks of 16 MiB and more get their own mapping. */
export const DEFAULT_MMAP_THRESHOLD_BYTES = 16 * 1024 * 1024;

/** What {@link fixMmapThreshold} did, for the log. */
export interface HeapPolicy {
  /** The fixed threshold in bytes, or null where glibc's own (adaptive) policy stays. */
  mmapThresholdBytes: number | null;
  /** Why, in words. */
  reason: string;
}

let policy: HeapPolicy | undefined;

/**
 * Fixes glibc's mmap threshold for the process, once (later calls return the first outcome).
 *
 * Why: glibc serves a block below the threshold from a heap arena, and raises the threshold (up to
 * 32 MiB) each time a mapped block is freed. The engine's batch-sized buffers (1–32 MB: per-batch
 * statistics, snippets, a cluster's feature rows in the splits, written chunks) then land in the
 * arenas, one per thread, and their freed space stays in the process: a 10-minute 384-channel
 * CUDA sort peaked at 1.93 GB against 1.23 GB for 1 minute. With the threshold fixed at 16 MiB
 * the same sort peaked at 1.25 GB, 1 % slower (1 MiB: 1.22 GB, +4 %; 128 KiB: 1.18 GB, +15 %)
 * with byte-identical outputs (H100 machine, 2026-11-25; docs/benchmarks.md).
 *
 * `SPIKESHARD_MMAP_THRESHOLD` (bytes; 0 leaves glibc's adaptive policy) overrides the default; an
 * explicit `MALLOC_MMAP_THRESHOLD_` in the environment, which glibc itself reads, is left alone.
 */
export function fixMmapThreshold(env: NodeJS.ProcessEnv = process.env): HeapPolicy {
  if (policy !== undefined) return policy;
  policy = heapPolicyFromEnv(env);
  if (policy.mmapThresholdBytes !== null && !loadCpuBinding().setMmapThreshold(policy.mmapThresholdBytes)) {
    policy = { mmapThresholdBytes: null, reason: 'not glibc: its allocator keeps its own policy' };
  }
  return policy;
}

/** The policy in words, for the log: "fixed at 16777216 B (the engine default)". */
export function describeHeapPolicy(heap: HeapPolicy): string {
  const threshold = heap.mmapThresholdBytes === null ? "glibc's own" : `fixed at ${heap.mmapThresholdBytes} B`;
  return `${threshold} (${heap.reason})`;
}

/** The policy the environment asks for (see fixMmapThreshold); applies nothing. */
export function heapPolicyFromEnv(env: NodeJS.ProcessEnv): HeapPolicy {
  const glibcOwn = env['MALLOC_MMAP_THRESHOLD_'];
  if (glibcOwn !== undefined && glibcOwn !== '') {
    return { mmapThresholdBytes: null, reason: `MALLOC_MMAP_THRESHOLD_=${glibcOwn} set in the environment` };
  }
  const text = env['SPIKESHARD_MMAP_THRESHOLD'];
  if (text === undefined || text === '') {
    return { mmapThresholdBytes: DEFAULT_MMAP_THRESHOLD_BYTES, reason: 'the engine default' };
  }
  const bytes = Number(text);
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > 32 * 1024 * 1024) {
    throw new ParameterError(
      `SPIKESHARD_MMAP_THRESHOLD: ${expected('an integer number of bytes in [0, 33554432]', text)}`,
    );
  }
  if (bytes === 0) return { mmapThresholdBytes: null, reason: "SPIKESHARD_MMAP_THRESHOLD=0: glibc's adaptive policy" };
  return { mmapThresholdBytes: bytes, reason: `SPIKESHARD_MMAP_THRESHOLD=${text}` };
}
