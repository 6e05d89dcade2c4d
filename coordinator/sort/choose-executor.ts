// SPDX-License-Identifier: GPL-3.0-or-later
/** Which executor a sort uses: in-process (the default), local workers, or running workers. */
import { randomBytes } from 'node:crypto';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ParameterError } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';
import { chooseBackend, type BackendRequest } from '../../native/lib/index.js';
import { readSecret } from '../../proto/secret.js';
import type { BatchExecutor } from './executor.js';
import { GrpcExecutor } from './grpc-executor.js';
import { LocalExecutor } from './local-executor.js';
import { startLocalWorkers } from './local-workers.js';

/** The worker options of `sort` (CONTRACT.md); all absent = in-process. */
export interface DistributedOptions {
  /** Start this many local workers on 127.0.0.1. */
  workers?: number | undefined;
  /** Running workers, HOST:PORT. */
  workerAddresses?: string[] | undefined;
  /** Use every worker that registers here, also during the run. */
  workerDir?: string | undefined;
  /** The run secret for running workers; else SPIKESHARD_SECRET. */
  secretFile?: string | undefined;
  /** Deadline of one request, s. */
  requestTimeoutS?: number | undefined;
  /** The run fails after this long without a live worker, s. */
  noWorkerTimeoutS?: number | undefined;
}

export function isDistributed(d: DistributedOptions | undefined): boolean {
  return (
    d !== undefined && (d.workers !== undefined || (d.workerAddresses?.length ?? 0) > 0 || d.workerDir !== undefined)
  );
}

/**
 * What a sort with `preprocessing` does on workers that report `backends`: the ibl chain has no
 * CUDA version, so a CUDA engine runs it, and the drift shift, on its host's CPU and keeps only
 * matching pursuit on the GPU. The CLI neither refuses the combination nor hides it: the returned
 * line (undefined when no stage moves off a GPU) is logged once, and run.json records
 * `preprocessing: 'cpu'`.
 */
export function iblOnCudaNote(preprocessing: 'ks25' | 'ibl', backends: readonly string[]): string | undefined {
  if (preprocessing !== 'ibl' || !backends.includes('cuda')) return undefined;
  return (
    '--preprocessing ibl has no CUDA version: on the CUDA workers its destriping and the drift shift run on ' +
    'their CPU, matching pursuit on the GPU (--preprocessing ks25 runs every stage on the GPU)'
  );
}

/**
 * @param recording the recording or session folder (local workers may read under its folder)
 * @param outDir the run folder (local mode writes its secret there, mode 0600)
 * @param threads CPU threads in all (split between local workers); 0 = all cores
 * @param backend in process: resolved here; local workers: passed as their --backend
 */
export async function chooseExecutor(
  d: DistributedOptions | undefined,
  recording: string,
  outDir: string,
  threads: number,
  log: Logger,
  backend: BackendRequest = 'cpu',
): Promise<BatchExecutor> {
  if (d === undefined || !isDistributed(d)) return new LocalExecutor(threads, chooseBackend(backend, log), log);
  const timeouts = {
    ...(d.requestTimeoutS !== undefined ? { requestTimeoutS: d.requestTimeoutS } : {}),
    ...(d.noWorkerTimeoutS !== undefined ? { noWorkerTimeoutS: d.noWorkerTimeoutS } : {}),
  };
  if (d.workers !== undefined) {
    if ((d.workerAddresses?.length ?? 0) > 0 || d.workerDir !== undefined) {
      throw new ParameterError(
        '--workers starts local workers; it cannot be combined with --worker-addresses or --worker-dir',
      );
    }
    if (!Number.isInteger(d.workers) || d.workers < 1 || d.workers > 256) {
      throw new ParameterError(`--workers: expected a whole number in 1..256, got ${d.workers}`);
    }
    const secret = randomBytes(32).toString('hex');
    const secretFile = path.join(outDir, '.secret');
    writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
    chmodSync(secretFile, 0o600);
    const abs = path.resolve(recording);
    const dataRoot = statSync(abs).isDirectory() ? abs : path.dirname(abs);
    const cores = os.availableParallelism();
    const threadsPerWorker = Math.max(1, Math.floor((threads > 0 ? threads : cores) / d.workers));
    // Each worker resolves the request itself (and refuses 'cuda' without a device, so the pool fails).
    const pool = await startLocalWorkers({ count: d.workers, dataRoot, secretFile, threadsPerWorker, backend }, log);
    try {
      return await GrpcExecutor.connect(
        { secret, addresses: pool.addresses, ...timeouts, onClose: () => pool.stop() },
        log,
      );
    } catch (err) {
      await pool.stop();
      throw err;
    }
  }
  if (backend !== 'cpu') {
    log.info(`--backend ${backend}: running workers use the backend they were started with (see run.json)`);
  }
  const secret = readSecret(d.secretFile);
  return GrpcExecutor.connect({ secret, addresses: d.workerAddresses ?? [], workerDir: d.workerDir, ...timeouts }, log);
}
