// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard compress REC.bin`: mtscomp-compresses a recording (`.cbin` + `.ch` beside it). */
import { InvalidArgumentError, type Command } from 'commander';
import { compressBin, inspectRecording, verifyCbin } from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import type { CliContext } from '../main.js';

interface CompressCliOptions {
  chunkS: number;
  threads: number;
  verify?: boolean;
}

function positiveSeconds(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError('expected seconds > 0.');
  return v;
}

function threadCount(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(v) || v < 0)
    throw new InvalidArgumentError('expected an integer >= 0.');
  return v;
}

/** Compresses one uncompressed recording; returns the `.cbin` written. */
export async function compressRecording(
  recording: string,
  options: { chunkDurationS: number; verify: boolean; threads?: number },
): Promise<{ cbinPath: string; chPath: string; ratio: number }> {
  const info = await inspectRecording(recording);
  if (info.compressed !== undefined) throw new InputError(info.binPath, 'is already mtscomp-compressed');
  const { cbinPath, chPath, header } = await compressBin(info.binPath, {
    nChannels: info.nSavedChannels,
    sampleRateHz: info.sampleRateHz,
    chunkDurationS: options.chunkDurationS,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  if (options.verify) await verifyCbin(cbinPath, { chPath, decode: true });
  const cbinBytes = header.chunkOffsets[header.chunkOffsets.length - 1]!;
  return { cbinPath, chPath, ratio: info.fileBytes / cbinBytes };
}

export function registerCompress(program: Command, ctx: CliContext): void {
  program
    .command('compress')
    .description(
      'Compress a recording (.ap.bin or plain .bin) into mtscomp .cbin + .ch beside it; the .meta/.json is shared. ' +
        'See docs/recording-formats.md.',
    )
    .argument('<REC>', 'recording file (.ap.bin, .ap.meta, or plain .bin/.json)')
    .option('--chunk-s <seconds>', 'chunk length (mtscomp default 1 s)', positiveSeconds, 1)
    .option('--threads <n>', 'chunks compressed at once, one per thread (0 = all cores)', threadCount, 0)
    .option('--verify', 'decode the result and check it against the SHA-1 of the original samples')
    .action(async (recording: string, opts: CompressCliOptions) => {
      const r = await compressRecording(recording, {
        chunkDurationS: opts.chunkS,
        verify: opts.verify ?? false,
        threads: opts.threads,
      });
      ctx.stdout(
        `${r.cbinPath}\n${r.chPath}\ncompression ratio ${r.ratio.toFixed(2)}${opts.verify ? ', verified' : ''}`,
      );
    });
}
