// SPDX-License-Identifier: GPL-3.0-or-later
/** Statistics windows computed in worker threads: the in-process bytes, and the in-process errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { discoverSession, inspectRecording } from '../../../native/lib/index.js';
import type { ProbeTask } from '../../../coordinator/sort/executor.js';
import { LocalExecutor } from '../../../coordinator/sort/local-executor.js';
import { probeSetup } from '../../../coordinator/sort/pipeline.js';
import { statisticsWorkerCount } from '../../../coordinator/sort/statistics-threads.js';
import { planBatches } from '../../../coordinator/plan/batch-plan.js';
import { defaultParams } from '../../../proto/params.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

test('statistics workers: none below 8 cores, one per 4 cores up to 4', () => {
  assert.equal(statisticsWorkerCount(2, {}), 0);
  assert.equal(statisticsWorkerCount(7, {}), 0);
  assert.equal(statisticsWorkerCount(8, {}), 2);
  assert.equal(statisticsWorkerCount(16, {}), 4);
  assert.equal(statisticsWorkerCount(64, {}), 4);
  assert.equal(statisticsWorkerCount(64, { SPIKESHARD_STATISTICS_WORKERS: '0' }), 0);
  assert.equal(statisticsWorkerCount(2, { SPIKESHARD_STATISTICS_WORKERS: '3' }), 3);
  assert.throws(
    () => statisticsWorkerCount(2, { SPIKESHARD_STATISTICS_WORKERS: 'many' }),
    /SPIKESHARD_STATISTICS_WORKERS.*many/,
  );
});

test(
  'windows computed in worker threads are the in-process ones, whatever order they finish in',
  { timeout: 60_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-stat-threads-');
    try {
      const sim = path.join(dir, 'sim');
      assert.equal(runCli(['simulate', sim, '--channels', '16', '--seconds', '3', '--units', '3']).status, 0);
      const info = await inspectRecording((await discoverSession(sim)).probes[0]!);
      const params = defaultParams();
      const task: ProbeTask = {
        probe: 'imec0',
        recordingPath: info.binPath,
        allowPartialSample: false,
        setup: probeSetup(info),
        params,
        batches: planBatches(info.nSamples, params.batchSamples, params.haloSamples),
      };
      // Windows of different lengths, so they finish out of order in the workers.
      const windows = [30_000, 6000, 20_000, 9000, 12_000].map((length, i) => ({
        readStart: i * 8000,
        readEnd: i * 8000 + length,
        marginSamples: 1000,
      }));
      const here = new LocalExecutor(1, undefined, undefined, { statisticsWorkers: 0 });
      const threaded = new LocalExecutor(1, undefined, undefined, { statisticsWorkers: 3 });
      try {
        assert.equal(threaded.statisticsConcurrency, 3);
        assert.equal(here.statisticsConcurrency, here.concurrency);
        const expected = await Promise.all(windows.map((w) => here.statistics(task, w)));
        const got = await Promise.all(windows.map((w) => threaded.statistics(task, w)));
        assert.deepEqual(got, expected);
        // A window the recording does not hold fails with the in-process error.
        const bad = { readStart: info.nSamples - 100, readEnd: info.nSamples + 5000, marginSamples: 10 };
        const inProcess = await here.statistics(task, bad).then(
          () => null,
          (error: unknown) => error,
        );
        assert.ok(inProcess instanceof Error, 'reading past the end fails');
        await assert.rejects(threaded.statistics(task, bad), (error: unknown) => {
          assert.equal((error as Error).constructor, inProcess.constructor);
          assert.equal((error as Error).message, inProcess.message);
          return true;
        });
      } finally {
        await threaded.close();
        await here.close();
      }
    } finally {
      cleanup();
    }
  },
);
