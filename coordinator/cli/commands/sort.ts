// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard sort REC --out DIR`: every parameter of proto/params.ts is an option. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { PARAMS, cliFlag, paramHelp, resolveParams, type ParamName, type ParamSpec } from '../../../proto/params.js';
import { runSort } from '../../sort/run-sort.js';
import type { CliContext } from '../main.js';

function numberParser(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

export function registerSort(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('sort')
    .description(
      'sort a recording or every probe of a session folder; writes a phy folder and an ALF collection per probe',
    )
    .argument('<recording>', 'a .ap.bin / .ap.meta / plain .json recording, or a session folder')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--threads <n>', 'CPU threads (0 = all cores)', numberParser('--threads'), 0)
    .addOption(
      new Option(
        '--backend <name>',
        'compute backend of the per-batch kernels: cpu, cuda (fails without a usable GPU) or auto (docs/cuda.md)',
      )
        .choices(['cpu', 'cuda', 'auto'])
        .default('cpu'),
    )
    .option('--probe <labels>', 'only these probes, comma-separated (e.g. imec0,imec1)')
    .option(
      '--fresh',
      'delete an earlier run in the output folder and start over (without it, a run of the same inputs and parameters is resumed)',
      false,
    )
    .option('--overwrite', 'deprecated alias of --fresh', false)
    .option(
      '--allow-partial-sample',
      'sort the whole samples of a .bin whose size is not a whole number of samples',
      false,
    )
    .option(
      '--checkpoint-every <s>',
      "write learning's state to the run folder at most every S seconds (0 = after every round)",
      (value: string): number => {
        const s = numberParser('--checkpoint-every')(value);
        if (s < 0) throw new InvalidArgumentError(`--checkpoint-every must be >= 0 seconds, got ${value}`);
        return s;
      },
    )
    .option('--workers <n>', 'start N local worker processes and send them the batches', numberParser('--workers'))
    .option('--worker-addresses <list>', 'use running workers, HOST:PORT,... (docs/distributed.md)')
    .option('--worker-dir <dir>', 'use every worker that registers in this folder, also during the run')
    .option('--secret-file <file>', 'the run secret of running workers (else env SPIKESHARD_SECRET)')
    .option('--worker-timeout <s>', 'deadline of one request to a worker, s', numberParser('--worker-timeout'))
    .option('--worker-wait <s>', 'fail after this long without a live worker, s', numberParser('--worker-wait'));
  for (const name of Object.keys(PARAMS) as ParamName[]) {
    const spec: ParamSpec = PARAMS[name];
    const flag = cliFlag(name);
    if (spec.kind === 'boolean') {
      cmd.addOption(new Option(spec.default ? `--no-${flag.slice(2)}` : flag, paramHelp(name)));
    } else if (spec.kind === 'choice') {
      cmd.addOption(new Option(`${flag} <value>`, paramHelp(name)).choices(spec.choices));
    } else {
      cmd.addOption(new Option(`${flag} <value>`, paramHelp(name)).argParser(numberParser(flag)));
    }
  }
  cmd.action(async (recording: string, opts: Record<string, unknown>) => {
    const given: Record<string, unknown> = {};
    for (const name of Object.keys(PARAMS)) if (opts[name] !== undefined) given[name] = opts[name];
    const params = resolveParams(given);
    if (opts['overwrite'] === true) ctx.log().warn('--overwrite is deprecated: it means --fresh now');
    const results = await runSort(
      {
        recording,
        outDir: opts['out'] as string,
        params,
        threads: opts['threads'] as number,
        backend: opts['backend'] as 'cpu' | 'cuda' | 'auto',
        fresh: (opts['fresh'] as boolean) || (opts['overwrite'] as boolean),
        allowPartialSample: opts['allowPartialSample'] as boolean,
        learningCheckpointS: opts['checkpointEvery'] as number | undefined,
        probes: typeof opts['probe'] === 'string' ? opts['probe'].split(',').filter((s) => s !== '') : [],
        distributed: {
          workers: opts['workers'] as number | undefined,
          workerAddresses:
            typeof opts['workerAddresses'] === 'string'
              ? opts['workerAddresses'].split(',').filter((s) => s !== '')
              : undefined,
          workerDir: opts['workerDir'] as string | undefined,
          secretFile: opts['secretFile'] as string | undefined,
          requestTimeoutS: opts['workerTimeout'] as number | undefined,
          noWorkerTimeoutS: opts['workerWait'] as number | undefined,
        },
      },
      ctx.log(),
    );
    for (const r of results) {
      ctx.stdout(
        `${r.probe}: ${r.clusters} clusters (${r.good} good), ${r.spikes} spikes → ${r.phy}${r.alf ? `, ${r.alf}` : ''}`,
      );
    }
  });
}
