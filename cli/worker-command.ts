// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard worker --listen HOST:PORT --data-root DIR --secret-file FILE` (CONTRACT.md). */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CliContext } from '../coordinator/cli/main.js';
import { VERSION } from '../coordinator/version.js';
import { runWorker } from '../worker/run-worker.js';

export function registerWorker(program: Command, ctx: CliContext): void {
  program
    .command('worker')
    .description('serve per-batch work to a coordinator over gRPC (distributed mode, docs/distributed.md)')
    .requiredOption('--listen <host:port>', 'address to listen on; port 0 = any free port (the bound one is printed)')
    .requiredOption(
      '--data-root <dir>',
      'requests may only read files under this folder (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--secret-file <file>', 'the run secret (first line); else env SPIKESHARD_SECRET; required')
    .option('--register <dir>', 'write DIR/worker-<host>-<port>.json once listening; removed on SIGTERM/SIGINT')
    .addOption(new Option('--backend <name>', 'compute backend').choices(['cpu', 'cuda', 'auto']).default('auto'))
    .option(
      '--threads <n>',
      'CPU threads (0 = all cores)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0)
          throw new InvalidArgumentError(`--threads must be a whole number >= 0, got "${v}"`);
        return n;
      },
      0,
    )
    .addOption(
      new Option(
        '--exit-on-stdin-close',
        'exit when stdin closes (set by a coordinator that starts workers)',
      ).hideHelp(),
    )
    .action(async (opts: Record<string, unknown>) => {
      await runWorker(
        {
          listen: opts['listen'] as string,
          dataRoots: opts['dataRoot'] as string[],
          secretFile: opts['secretFile'] as string | undefined,
          register: opts['register'] as string | undefined,
          backend: opts['backend'] as 'cpu' | 'cuda' | 'auto',
          threads: opts['threads'] as number,
          exitOnStdinClose: opts['exitOnStdinClose'] === true,
          version: VERSION,
          stdout: ctx.stdout,
        },
        ctx.log(),
      );
    });
}
