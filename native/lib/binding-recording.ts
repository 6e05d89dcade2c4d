// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the recording readers' native work (native/src/addon/recording.cc). */

export interface RecordingBinding {
  /**
   * [sync] rows[t·C + c] ← Σ_{u ≤ t} diff[c·T + u], wrapping as int16 (mtscomp's decoded chunk from
   * its inflated, channel-major time differences). Both arrays hold nSamples × nChannels values and
   * must be different arrays. Throws TypeError on a wrong type, RangeError on a wrong length.
   */
  undoTimeDiff(diff: Int16Array, nSamples: number, nChannels: number, rows: Int16Array): void;
  /** [async] {@link RecordingBinding.undoTimeDiff} on libuv's thread pool; the arguments are checked before it is queued. */
  undoTimeDiffAsync(diff: Int16Array, nSamples: number, nChannels: number, rows: Int16Array): Promise<void>;
  /**
   * [sync] out[t·nOut + c] ← rows[t·nSaved + columns[c]] for t < nRows, nOut = columns.length: the
   * neural columns of rows read whole (a contiguous column list copies one block per row). rows
   * holds nRows × nSaved values, out nRows × nOut, and they must not overlap; every column lies in
   * [0, nSaved). threads: 0 for the native default (fewer for small gathers). Throws TypeError on a
   * wrong type, RangeError on a wrong length or column.
   */
  gatherColumns(
    rows: Int16Array,
    nRows: number,
    nSaved: number,
    columns: Int32Array,
    out: Int16Array,
    threads: number,
  ): void;
  /**
   * [async] Rows [firstRow, firstRow + nRows) of the open file `fd` (nSaved int16 per row from byte
   * 0), their columns gathered into out as {@link RecordingBinding.gatherColumns} does, read with
   * pread on the native threads (each its own rows, in pieces of about chunkBytes / threads bytes).
   * Resolves to -1 when every row was read, else to the byte at which the file ended (rows past it
   * are left unwritten); rejects on a failing read, naming the byte. fd must stay open until the
   * promise settles. Arguments are checked before the read is queued.
   */
  readBinRows(
    fd: number,
    firstRow: number,
    nRows: number,
    nSaved: number,
    columns: Int32Array,
    out: Int16Array,
    chunkBytes: number,
    threads: number,
  ): Promise<number>;

  // ---- whole mtscomp chunks on the native task pool ----
  /**
   * [sync] rows ← the samples of one mtscomp chunk: `compressed` (its zlib stream) inflated, then
   * the time difference undone ({@link RecordingBinding.undoTimeDiff}). rows holds nSamples ×
   * nChannels values. Throws TypeError/RangeError on wrong arguments, and Error whose message starts
   * with the problem ("cannot be decompressed (…); the file is corrupt", "decompresses to N bytes;
   * …") when the stream is damaged or of another size; the message names neither file nor chunk.
   */
  decodeMtscompChunk(compressed: Uint8Array, nSamples: number, nChannels: number, rows: Int16Array): void;
  /**
   * [async] {@link RecordingBinding.decodeMtscompChunk} on the task pool ({@link RecordingBinding.taskPoolThreads}
   * chunks at once, not libuv's pool); the arguments are checked before it is queued, the stream's
   * problems reject the promise.
   */
  decodeMtscompChunkAsync(compressed: Uint8Array, nSamples: number, nChannels: number, rows: Int16Array): Promise<void>;
  /**
   * [sync] One chunk's zlib stream: the time differences of rows (sample-major, nSamples ×
   * nChannels), channel-major, deflated at `level` (-1 = zlib's default, 6; window, memory level
   * and strategy zlib's defaults): the bytes `zlib.deflateSync(diff, { level })` gives.
   */
  encodeMtscompChunk(rows: Int16Array, nSamples: number, nChannels: number, level: number): Buffer;
  /** [async] {@link RecordingBinding.encodeMtscompChunk} on the task pool. */
  encodeMtscompChunkAsync(rows: Int16Array, nSamples: number, nChannels: number, level: number): Promise<Buffer>;
  /** [sync] Chunks the task pool decodes or encodes at once: setThreads' value, or all cores. */
  taskPoolThreads(): number;
  // ---- end of whole mtscomp chunks ----
}
