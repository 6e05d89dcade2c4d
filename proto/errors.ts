// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The error vocabulary shared by every process. Each class maps to one CLI exit code and one
 * gRPC status (worker/), so a failure keeps its meaning across process boundaries.
 */

/** Process exit codes of the `spikeshard` CLI. */
export const ExitCode = {
  ok: 0,
  /** A bug: an error that is not one of the classes below. */
  internal: 1,
  /** Invalid command line or parameters. */
  usage: 2,
  /** A recording, ground-truth or sorting folder that cannot be used as it is. */
  badInput: 3,
  /** The run could not finish (workers lost, out of memory); the run folder can be resumed. */
  runFailed: 4,
  /** Stopped by SIGINT/SIGTERM; the run folder can be resumed. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: a failure the user can act on, with the exit code it deserves. */
export abstract class SpikeshardError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A parameter or option outside its allowed range or of the wrong kind. */
export class ParameterError extends SpikeshardError {
  readonly exitCode = ExitCode.usage;
}

/**
 * A file or folder given as input that cannot be used. The message always names the file, what
 * was found and what was expected.
 */
export class InputError extends SpikeshardError {
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly file: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${problem}`, options);
  }
}

/** The run stopped before the end; what finished is kept in the run folder. */
export class RunError extends SpikeshardError {
  readonly exitCode = ExitCode.runFailed;
}

/** Formats "expected X, got Y" consistently (sharp's invalidParameterError, in our words). */
export function expected(what: string, got: unknown): string {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  return `expected ${what}, got ${shown}`;
}

/**
 * The integer environment variable `name` (`env[name]`) when it is set and not empty: an integer
 * from `min` to `max`, else a ParameterError naming the variable. Undefined when unset or empty.
 */
export function integerFromEnvironment(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ParameterError(`${name}: ${expected(`an integer from ${min} to ${max}`, text)}`);
  }
  return n;
}
