#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
import { ExitCode } from '../../proto/errors.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = ExitCode.internal;
  },
);
