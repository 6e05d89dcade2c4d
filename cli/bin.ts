#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The `spikeshard` command: the coordinator's commands plus `worker`. This top-level layer is the
 * one place that sees both sides (coordinator/ and worker/ never import each other).
 */
import { main } from '../coordinator/cli/main.js';
import { ExitCode } from '../proto/errors.js';
import { peakRssKb } from '../proto/log.js';
import { registerWorker } from './worker-command.js';

// Benchmarks read the peak memory of a command from this line (npm run bench).
if (process.env['SPIKESHARD_REPORT_RSS'] === '1') {
  process.on('exit', () => {
    process.stderr.write(`${JSON.stringify({ maxRssKb: peakRssKb() })}\n`);
  });
}

main(process.argv.slice(2), [registerWorker]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = ExitCode.internal;
  },
);
