// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Native reads of a recording's sample rows: a `.bin` read with positioned reads on the native
 * threads (each its own part of the rows, so that page-cache copies use several cores), and the
 * gather of the neural columns out of whole rows (what a `.cbin`'s decoded rows need). Both replace
 * a JavaScript loop over ~65 k rows per batch.
 */
import { InputError } from '../../../proto/errors.js';
import { loadCpuBinding } from '../load.js';

/** An open `.bin` as a native read needs it. */
export interface BinFile {
  /** The descriptor of the open file; the caller keeps it open until the read settles. */
  readonly fd: number;
  /** For error messages. */
  readonly path: string;
  /** The size the file had when opened, in bytes, for error messages. */
  readonly fileBytes: number;
}

/** How a native read is split. */
export interface RowReadOptions {
  /** Bytes read at once by all threads together (each reads about chunkBytes / threads); ≥ 1. */
  readonly chunkBytes: number;
  /** Native threads; 0 for the native default (the worker's --threads), fewer for small reads. @default 0 */
  readonly threads?: number;
}

/**
 * `columns` of samples [firstSample, firstSample + nSamples) of `file` (nSaved int16 per sample)
 * into `out` (exactly nSamples × columns.length values, sample-major). A file that ends before the
 * rows do is an {@link InputError} naming the file, the byte where it ended and the size expected;
 * a failing read is an InputError with the system's reason.
 */
export async function readBinColumns(
  file: BinFile,
  firstSample: number,
  nSamples: number,
  nSaved: number,
  columns: Int32Array,
  out: Int16Array,
  options: RowReadOptions,
): Promise<void> {
  let endedAtByte: number;
  try {
    endedAtByte = await loadCpuBinding().readBinRows(
      file.fd,
      firstSample,
      nSamples,
      nSaved,
      columns,
      out,
      options.chunkBytes,
      options.threads ?? 0,
    );
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw new InputError(file.path, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (endedAtByte >= 0) {
    throw new InputError(
      file.path,
      `ended at byte ${endedAtByte} while ${file.fileBytes} bytes were expected (did it shrink while open?)`,
    );
  }
}

/**
 * out[t·nOut + c] = rows[t·nSaved + columns[c]] for t < nRows (nOut = columns.length): the chosen
 * columns of whole sample rows, on the native threads. `rows` and `out` hold exactly nRows × nSaved
 * and nRows × nOut values and must not overlap.
 */
export function gatherColumns(
  rows: Int16Array,
  nRows: number,
  nSaved: number,
  columns: Int32Array,
  out: Int16Array,
  threads = 0,
): void {
  loadCpuBinding().gatherColumns(rows, nRows, nSaved, columns, out, threads);
}
