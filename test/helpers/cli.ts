// SPDX-License-Identifier: GPL-3.0-or-later
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../native/lib/index.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/cli/bin.js) in a child process, as a user would. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const bin = path.join(packageRoot(), 'dist', 'cli', 'bin.js');
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? packageRoot(),
    env: { ...process.env, SPIKESHARD_LOG_LEVEL: 'info', ...options.env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
