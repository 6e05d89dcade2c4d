// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The `spikeshard` command. A thin adapter: each command parses its options and calls a library
 * function; this file turns errors into messages and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, SpikeshardError } from '../../proto/errors.js';
import { createLogger, type Logger } from '../../proto/log.js';
import { VERSION } from '../version.js';
import { commands } from './commands/index.js';

export interface CliContext {
  /** Created lazily so that `--help` prints nothing else. */
  log: () => Logger;
  /** Where results meant for the user go (tables, JSON); logs go to stderr. */
  stdout: (text: string) => void;
}

/** A command's registration; the top-level cli/ adds `worker` this way. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

export function buildProgram(ctx: CliContext, extra: readonly RegisterCommand[] = []): Command {
  const program = new Command('spikeshard')
    .description('Kilosort 2.5 spike sorting for Neuropixels recordings, on one machine or across a cluster')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const register of [...commands, ...extra]) register(program, ctx);
  return program;
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof SpikeshardError) return err.exitCode;
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  return ExitCode.internal;
}

export async function main(argv: string[], extra: readonly RegisterCommand[] = []): Promise<ExitCode> {
  let logger: Logger | undefined;
  const ctx: CliContext = {
    log: () => (logger ??= createLogger()),
    stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
  };
  const program = buildProgram(ctx, extra);
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    const code = exitCodeFor(err);
    if (err instanceof CommanderError) return code; // commander has already printed the problem
    if (err instanceof SpikeshardError) {
      ctx.log().error({ err: { name: err.name, message: err.message } }, err.message);
    } else {
      ctx
        .log()
        .fatal({ err }, `internal error (please report it): ${err instanceof Error ? err.message : String(err)}`);
    }
    return code;
  }
}
