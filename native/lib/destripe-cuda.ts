// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * IBL's waveform path on the CUDA backend: `destripeBatch` (with `kfilter: false, mute: false`)
 * and `cutWaveforms` on the device, bitwise equal to the CPU's (docs/cuda.md). The raw chunk
 * goes in, only the cut waveforms come back.
 */
import { ParameterError, expected } from '../../proto/errors.js';
import type { NativeCudaBinding, NativeDestripeCutArgs } from './binding-cuda.js';
import { destripeArgs, type DestripeOptions, type DestripedBlock, type WaveformWindows } from './destripe.js';
import type { SampleBlock } from './preprocess.js';

function deviceOptions(fn: string, options: DestripeOptions): DestripeOptions {
  if (options.kfilter !== false || options.mute !== false) {
    throw new ParameterError(
      `${fn}: the device runs IBL's waveform chain only: kfilter and mute ${expected('false', `${String(options.kfilter)} and ${String(options.mute)}`)}`,
    );
  }
  return options;
}

function cutArgs(
  fn: string,
  raw: SampleBlock<Int16Array>,
  options: DestripeOptions,
  windows: WaveformWindows,
  scale: number,
): NativeDestripeCutArgs {
  const nWaves = windows.starts.length;
  if (!Number.isSafeInteger(windows.nRows) || windows.nRows < 1) {
    throw new ParameterError(`${fn}: nRows ${expected('a positive integer', windows.nRows)}`);
  }
  if (windows.channels.length !== nWaves * windows.nRows) {
    throw new ParameterError(
      `${fn}: channels length ${expected(`nWaves × nRows = ${nWaves * windows.nRows}`, windows.channels.length)}`,
    );
  }
  return {
    ...destripeArgs(raw, deviceOptions(fn, options), fn),
    starts: windows.starts,
    channels: windows.channels,
    nWaves,
    nRows: windows.nRows,
    length: windows.length,
    scale,
  };
}

/** `destripeBatch` on the device (kfilter and mute must be false): the whole block, µV. */
export function cudaDestripeBatch(
  cuda: Pick<NativeCudaBinding, 'destripeBatch'>,
  raw: SampleBlock<Int16Array>,
  options: DestripeOptions,
): DestripedBlock {
  const args = destripeArgs(raw, deviceOptions('cudaDestripeBatch', options), 'cudaDestripeBatch');
  const { data } = cuda.destripeBatch(args);
  return { data, nSamples: args.nSamples, nChannels: args.nChannels, nSaturated: 0 };
}

/**
 * `cutWaveforms`(`destripeBatch`(raw, options), windows, scale) on the device: a new
 * (nWaves × nRows × length) Float32Array. kfilter and mute must be false.
 */
export function cudaDestripeCutWaveforms(
  cuda: Pick<NativeCudaBinding, 'destripeCutWaveforms'>,
  raw: SampleBlock<Int16Array>,
  options: DestripeOptions,
  windows: WaveformWindows,
  scale: number,
): Float32Array {
  return cuda.destripeCutWaveforms(cutArgs('cudaDestripeCutWaveforms', raw, options, windows, scale));
}

/**
 * {@link cudaDestripeCutWaveforms} off the JavaScript thread: the same checks (bad arguments throw
 * before it returns) and the same result; the caller reads the next chunk meanwhile. The arrays
 * passed in must not be modified until the promise settles.
 */
export function cudaDestripeCutWaveformsAsync(
  cuda: Pick<NativeCudaBinding, 'destripeCutWaveformsAsync'>,
  raw: SampleBlock<Int16Array>,
  options: DestripeOptions,
  windows: WaveformWindows,
  scale: number,
): Promise<Float32Array> {
  return cuda.destripeCutWaveformsAsync(cutArgs('cudaDestripeCutWaveformsAsync', raw, options, windows, scale));
}
