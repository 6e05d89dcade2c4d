// SPDX-License-Identifier: GPL-3.0-or-later
/** Crash-safe writes: a file is either absent or complete, never torn. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

let counter = 0;

const temporaryOf = (file: string): string =>
  path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter++}.tmp`);

/** How writeFileAtomic makes a file durable. */
export interface AtomicWriteOptions {
  /**
   * fsync the file before the rename (default true). Without it the rename is still atomic for the
   * process (a kill leaves the old or the new file), but after a machine crash the new name may
   * hold a torn body: only for files whose reader detects that (a checksum) and can redo the work.
   */
  sync?: boolean;
}

/**
 * Writes `data` to a temporary sibling, syncs it and renames it over `file`. An array of parts is
 * written back to back, so large bodies (an .npy header and its data) need not be concatenated.
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array | readonly Uint8Array[],
  options: AtomicWriteOptions = {},
): void {
  const parts = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  writeFileAtomicStream(file, (write) => parts.forEach(write), options);
}

/**
 * Like writeFileAtomic for a body produced piece by piece: `fill` calls `write` with each piece,
 * in order, and may drop it afterwards (nothing is kept), so a large file never sits in memory
 * whole. When `fill` throws, the temporary file is removed and `file` is left as it was.
 */
export function writeFileAtomicStream(
  file: string,
  fill: (write: (bytes: Uint8Array) => void) => void,
  options: AtomicWriteOptions = {},
): void {
  const tmp = temporaryOf(file);
  const fd = openSync(tmp, 'w');
  try {
    try {
      fill((bytes) => {
        let written = 0;
        while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      });
      if (options.sync !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * writeFileAtomic on libuv's thread pool: the parts are written (and synced unless `sync: false`)
 * while the caller goes on, and renamed over `file` at the end. The caller must leave the parts'
 * memory unchanged until the promise settles. On failure the temporary file is removed, `file` is
 * left as it was and the promise rejects.
 */
export async function writeFileAtomicInBackground(
  file: string,
  parts: readonly Uint8Array[],
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = temporaryOf(file);
  try {
    const handle = await open(tmp, 'w');
    try {
      for (const bytes of parts) {
        let written = 0;
        while (written < bytes.length) {
          written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
        }
      }
      if (options.sync !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
