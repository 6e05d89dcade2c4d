// SPDX-License-Identifier: GPL-3.0-or-later
import type { Command } from 'commander';
import type { CliContext } from '../main.js';
import { registerCompare } from './compare.js';
import { registerInfo } from './info.js';
import { registerReport } from './report.js';
import { registerSimulate } from './simulate.js';
import { registerSort } from './sort.js';

/** Every command registers itself here; order is the order in `--help`. */
export const commands: Array<(program: Command, ctx: CliContext) => void> = [
  registerSimulate,
  registerInfo,
  registerSort,
  registerCompare,
  registerReport,
];
