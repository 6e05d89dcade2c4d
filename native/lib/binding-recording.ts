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
