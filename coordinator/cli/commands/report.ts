// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard report OUT`: (re)writes OUT/report.html from a finished run folder. */
import type { Command } from 'commander';
import { writeRunReport } from '../../report/report.js';
import type { CliContext } from '../main.js';

export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description(
      'write a self-contained HTML report of a finished run folder (drift map, channels, units, firing rates, ' +
        'timings per stage) from its run.json and ALF collections. See docs/report.md.',
    )
    .argument('<OUT>', 'output folder of spikeshard sort')
    .option('-o, --output <file>', 'where to write the report (default OUT/report.html)')
    .action((out: string, opts: { output?: string }) => {
      ctx.stdout(opts.output === undefined ? writeRunReport(out) : writeRunReport(out, opts.output));
    });
}
