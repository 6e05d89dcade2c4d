// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `sort --workers N`: N worker processes on 127.0.0.1 started by the coordinator, each on a port
 * of its choosing (read back from its `listening HOST:PORT` line), stopped at the end. They also
 * exit when their stdin closes, so a coordinator that dies (even by SIGKILL) leaves no worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../native/lib/index.js';
import { RunError } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';

export interface LocalWorkersOptions {
  count: number;
  dataRoot: string;
  secretFile: string;
  /** Native threads per worker; 0 = all cores. */
  threadsPerWorker: number;
  /** The workers' --backend. @default 'cpu' */
  backend?: 'cpu' | 'cuda' | 'auto';
  /** How long a worker may take to start listening, s. @default 60 */
  startTimeoutS?: number;
}

export interface LocalWorkers {
  addresses: string[];
  pids: number[];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when every process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** The full CLI (coordinator commands plus `worker`), as built. */
export function cliEntry(): string {
  return path.join(packageRoot(), 'dist', 'cli', 'bin.js');
}

function startOne(options: LocalWorkersOptions, log: Logger): { child: ChildProcess; ready: Promise<string> } {
  const args = [
    cliEntry(),
    'worker',
    '--listen',
    '127.0.0.1:0',
    '--data-root',
    options.dataRoot,
    '--secret-file',
    options.secretFile,
    '--threads',
    String(options.threadsPerWorker),
    '--backend',
    options.backend ?? 'cpu',
    '--exit-on-stdin-close',
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, SPIKESHARD_LOG_LEVEL: process.env['SPIKESHARD_WORKER_LOG_LEVEL'] ?? 'warn' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
    for (const line of s.split('\n')) if (line.trim() !== '') log.debug({ pid: child.pid }, `worker: ${line}`);
  });
  const ready = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () =>
        reject(new RunError(`local worker ${child.pid} did not start listening in ${options.startTimeoutS ?? 60} s`)),
      (options.startTimeoutS ?? 60) * 1000,
    );
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      const m = /^listening (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new RunError(
          `local worker ${child.pid} exited (${signal ?? `code ${code}`}) before listening: ${stderr.trim()}`,
        ),
      );
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new RunError(`cannot start a local worker: ${err.message}`));
    });
  });
  ready.catch(() => undefined);
  return { child, ready };
}

export async function startLocalWorkers(options: LocalWorkersOptions, log: Logger): Promise<LocalWorkers> {
  const started = Array.from({ length: options.count }, () => startOne(options, log));
  const children = started.map((s) => s.child);
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  // A coordinator that exits without stop() (an exception, process.exit) takes its workers along.
  process.once('exit', killAll);
  const stop = async (graceMs = 5_000) => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    process.removeListener('exit', killAll);
  };
  try {
    const addresses = await Promise.all(started.map((s) => s.ready));
    for (const c of children) {
      c.once('exit', (code, signal) => log.debug({ pid: c.pid, code, signal }, `local worker ${c.pid} exited`));
    }
    log.info({ addresses, pids: children.map((c) => c.pid) }, `started ${options.count} local worker(s)`);
    return { addresses, pids: children.map((c) => c.pid!), stop };
  } catch (err) {
    await stop(1_000);
    throw err;
  }
}
