// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Faults (design.md §6): a worker killed with SIGKILL in the middle of a round loses only its
 * batch, which goes to another worker; a worker that registers in the worker folder during the
 * run joins it; the outputs are the in-process sort's bytes all the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GrpcExecutor } from '../../../coordinator/sort/grpc-executor.js';
import type { BatchExecutor } from '../../../coordinator/sort/executor.js';
import { runSort, type SortOptions } from '../../../coordinator/sort/run-sort.js';
import { silentLogger } from '../../../proto/log.js';
import { resolveParams } from '../../../proto/params.js';
import { runCli } from '../../helpers/cli.js';
import { outputDigests } from '../../helpers/output-digests.js';
import { tmpDir } from '../../helpers/tmp.js';
import { startWorkerProcess, type WorkerProcess } from '../../helpers/worker-process.js';

test(
  'kill -9 of a worker mid-round and a worker joining mid-run leave the outputs unchanged',
  { timeout: 180_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-faults-');
    const workers: WorkerProcess[] = [];
    try {
      const sim = path.join(dir, 'sim');
      const s = runCli(['simulate', sim, '--channels', '32', '--seconds', '10', '--units', '8', '--seed', '11']);
      assert.equal(s.status, 0, s.stderr);
      const options = (outDir: string): SortOptions => ({
        recording: sim,
        outDir,
        params: resolveParams({}),
        threads: 1,
        fresh: false,
        allowPartialSample: false,
        probes: [],
      });
      await runSort(options(path.join(dir, 'local')), silentLogger());
      const want = outputDigests(path.join(dir, 'local'));

      const secret = 'faults-secret';
      const secretFile = path.join(dir, 'secret');
      writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
      const workerDir = path.join(dir, 'workers');
      mkdirSync(workerDir);
      const workerArgs = ['--listen', '127.0.0.1:0', '--data-root', sim, '--secret-file', secretFile, '--threads', '1'];
      const start = async () => {
        const w = await startWorkerProcess([...workerArgs, '--register', workerDir]);
        workers.push(w);
        return w;
      };
      const victim = await start();
      await start();
      const exec = await GrpcExecutor.connect(
        { secret, addresses: [], workerDir, probeIntervalS: 0.2, requestTimeoutS: 60, noWorkerTimeoutS: 30 },
        silentLogger(),
      );
      let learnCalls = 0;
      let extractCalls = 0;
      const injected: { joiner: Promise<WorkerProcess> | null; killed: Promise<void> | null } = {
        joiner: null,
        killed: null,
      };
      // Faults are injected from inside the pipeline's calls, so they land mid-round.
      const faulty: BatchExecutor = {
        get concurrency() {
          return exec.concurrency;
        },
        statistics: (...a) => exec.statistics(...a),
        snippets: (...a) => exec.snippets(...a),
        driftDetect: (...a) => exec.driftDetect(...a),
        learn: (...a) => {
          if (learnCalls++ === 0) injected.joiner = start();
          return exec.learn(...a);
        },
        extract: (...a) => {
          // Every lane is busy once the second request is out: the victim is working on a batch.
          if (extractCalls++ === 1)
            injected.killed = new Promise((r) => setTimeout(r, 30)).then(() => victim.kill('SIGKILL'));
          return exec.extract(...a);
        },
        close: () => exec.close(),
      };
      await runSort(options(path.join(dir, 'distributed')), silentLogger(), faulty);
      await injected.killed;
      await injected.joiner;
      const stats = exec.stats();
      assert.ok(stats.workersLost >= 1, JSON.stringify(stats));
      assert.ok(stats.retries >= 1, `the killed worker's batch was re-sent: ${JSON.stringify(stats)}`);
      assert.equal(stats.workersJoined, 3, `the late worker joined: ${JSON.stringify(stats)}`);
      assert.deepEqual(outputDigests(path.join(dir, 'distributed')), want);
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      cleanup();
    }
  },
);
