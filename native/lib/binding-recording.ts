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
}
