// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `spikeshard worker` as a library call: reads the secret, starts the server, announces the bound
 * address (a `listening HOST:PORT` line on stdout and, with a register folder, an atomically
 * written file), and runs until SIGTERM/SIGINT (or, for workers a coordinator started, until
 * their stdin closes: a coordinator that dies takes its workers with it).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ParameterError } from '../proto/errors.js';
import { readSecret } from '../proto/secret.js';
import type { Logger } from '../proto/log.js';
import { chooseBackend, describeHeapPolicy, fixMmapThreshold } from '../native/lib/index.js';
import { startWorker } from './server.js';

export interface WorkerCommandOptions {
  listen: string;
  dataRoots: string[];
  secretFile: string | undefined;
  register: string | undefined;
  backend: 'cpu' | 'cuda' | 'auto';
  threads: number;
  exitOnStdinClose: boolean;
  version: string;
  /** Where the ready line goes. */
  stdout: (line: string) => void;
}

/** The address others should dial: a wildcard listen address is replaced by this host's name. */
export function advertisedAddress(bound: string): string {
  const i = bound.lastIndexOf(':');
  const host = bound.slice(0, i);
  const wildcard = host === '0.0.0.0' || host === '[::]' || host === '::' || host === '';
  return `${wildcard ? os.hostname() : host}:${bound.slice(i + 1)}`;
}

export async function runWorker(options: WorkerCommandOptions, log: Logger): Promise<void> {
  if (!/^.+:\d+$/.test(options.listen)) {
    throw new ParameterError(`--listen: expected HOST:PORT (port 0 = any free port), got "${options.listen}"`);
  }
  const secret = readSecret(options.secretFile);
  const heap = fixMmapThreshold();
  log.debug({ mmapThresholdBytes: heap.mmapThresholdBytes }, `C heap: mmap threshold ${describeHeapPolicy(heap)}`);
  // Throws RunError (exit 4) naming the loader's reason when cuda is requested but unusable.
  const backend = chooseBackend(options.backend, log);
  const worker = await startWorker(
    {
      listen: options.listen,
      dataRoots: options.dataRoots,
      secret,
      threads: options.threads,
      version: options.version,
      backend,
    },
    log,
  );
  const address = advertisedAddress(worker.address);
  let registration: string | null = null;
  if (options.register !== undefined) {
    const host = address.slice(0, address.lastIndexOf(':'));
    registration = path.join(options.register, `worker-${host}-${worker.port}.json`);
    const tmp = `${registration}.${process.pid}.tmp`;
    const entry = { address, backend: backend.backend, pid: process.pid, startedAt: new Date().toISOString() };
    writeFileSync(tmp, JSON.stringify(entry) + '\n');
    renameSync(tmp, registration);
  }
  options.stdout(`listening ${address}`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`worker stopping (${why})`);
      if (registration !== null) rmSync(registration, { force: true });
      void worker.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    if (options.exitOnStdinClose) {
      process.stdin.on('data', () => undefined);
      process.stdin.once('end', () => stop('stdin closed'));
      process.stdin.once('close', () => stop('stdin closed'));
      process.stdin.resume();
    }
  });
}
