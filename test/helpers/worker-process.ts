// SPDX-License-Identifier: GPL-3.0-or-later
/** Starts `spikeshard worker` as a child process (as a cluster would) and waits for its address. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../native/lib/index.js';

export interface WorkerProcess {
  child: ChildProcess;
  address: string;
  /** SIGKILL if still running; resolves on exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(args: string[]): Promise<WorkerProcess> {
  const bin = path.join(packageRoot(), 'dist', 'cli', 'bin.js');
  const child = spawn(process.execPath, [bin, 'worker', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPIKESHARD_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^listening (\S+)$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening: ${stderr}`)));
  });
  return {
    child,
    address,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
