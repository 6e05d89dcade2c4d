#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
import os from 'node:os';
import { ExitCode } from '../../proto/errors.js';
import { main } from './main.js';

// libuv's thread pool runs file reads, the inflate and decode of .cbin chunks, compression and the
// native async entries. Its default of 4 threads caps compressed reading at ~4 chunks at a time on
// a many-core node; it is sized when first used, so this must run before any of that. An explicit
// UV_THREADPOOL_SIZE wins.
process.env['UV_THREADPOOL_SIZE'] ??= String(Math.min(16, Math.max(4, os.availableParallelism())));

// Benchmarks read the peak memory of a command from this line (npm run bench).
if (process.env['SPIKESHARD_REPORT_RSS'] === '1') {
  process.on('exit', () => {
    process.stderr.write(`${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })}\n`);
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
