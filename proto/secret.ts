// SPDX-License-Identifier: GPL-3.0-or-later
/** The per-run secret every worker call carries (docs/distributed.md, Security). */
import { readFileSync } from 'node:fs';
import { InputError, ParameterError } from './errors.js';

/** The run secret from a file (its first line) or SPIKESHARD_SECRET; refuses to go on without one. */
export function readSecret(secretFile: string | undefined): string {
  if (secretFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(secretFile, 'utf8');
    } catch (err) {
      throw new InputError(secretFile, `cannot be read: ${(err as Error).message}`);
    }
    const secret = text.split('\n')[0]!.trim();
    if (secret === '') throw new InputError(secretFile, 'is empty; expected the run secret on its first line');
    return secret;
  }
  const env = process.env['SPIKESHARD_SECRET']?.trim();
  if (env) return env;
  throw new ParameterError('no run secret: pass --secret-file FILE or set SPIKESHARD_SECRET');
}
