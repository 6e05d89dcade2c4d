// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A simulated 16-channel, 3-s recording cut into three 25 000-sample batches (1 000-sample halos),
 * with all-good, diagonal-whitening channels: the engine tests that compare one way of reading
 * batches with another (read-ahead, reused raw arrays) on the same snippets.
 */
import path from 'node:path';
import { discoverSession, inspectRecording, type ProbeWork, type RecordingInfo } from '../../native/lib/index.js';
import { probeSetup } from '../../coordinator/sort/pipeline.js';
import { defaultParams } from '../../proto/params.js';
import { runCli } from './cli.js';
import { diagonalChannels } from './diagonal-channels.js';

export async function smallBatches(dir: string) {
  const sim = path.join(dir, 'sim');
  const made = runCli(['simulate', sim, '--channels', '16', '--seconds', '3', '--units', '3']);
  if (made.status !== 0) throw new Error(`simulate failed: ${made.stderr}`);
  const info: RecordingInfo = await inspectRecording((await discoverSession(sim)).probes[0]!);
  const setup = probeSetup(info);
  const channels = diagonalChannels(setup, 0.1);
  const work: ProbeWork = {
    probe: 'imec0',
    recordingPath: info.binPath,
    allowPartialSample: false,
    setup,
    params: { ...defaultParams(), snippetThreshold: 4 },
  };
  const spans = [0, 1, 2].map((i) => ({
    index: i,
    readStart: i * 25_000,
    ownStart: i * 25_000 + 1000,
    ownEnd: i * 25_000 + 24_000,
    readEnd: i * 25_000 + 25_000,
  }));
  return { info, channels, work, spans };
}
