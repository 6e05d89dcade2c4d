// SPDX-License-Identifier: GPL-3.0-or-later
import os from 'node:os';

/**
 * Sizes libuv's thread pool to the cores (4 to 16) unless UV_THREADPOOL_SIZE is set. The pool runs
 * file reads, the inflate and decode of .cbin chunks, compression and the native async entries; its
 * default of 4 threads caps compressed reading at ~4 chunks at a time on a many-core node. libuv
 * sizes the pool when it is first used, so a process must call this before any of that.
 */
export function sizeThreadPool(): void {
  process.env['UV_THREADPOOL_SIZE'] ??= String(Math.min(16, Math.max(4, os.availableParallelism())));
}
