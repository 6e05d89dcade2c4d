#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
import { ExitCode } from '../../proto/errors.js';
import { peakRssKb } from '../../proto/log.js';
import { main } from './main.js';

// Benchmarks read the peak memory of a command from this line (npm run bench).
if (process.env['SPIKESHARD_REPORT_RSS'] === '1') {
  process.on('exit', () => {
    process.stderr.write(`${JSON.stringify({ maxRssKb: peakRssKb() })}\n`);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = ExitCode.internal;
  },
);
