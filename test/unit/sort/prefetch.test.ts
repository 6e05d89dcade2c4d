// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Reading batches ahead (learning's pipeline fill): runRound says when a round has handed out its
 * last item, and the engine's prefetched batches give the same results as reading them on request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { BatchEngine } from '../../../native/lib/index.js';
import { LocalExecutor, prefetchBatchCount, requestsInFlight } from '../../../coordinator/sort/local-executor.js';
import { runRound } from '../../../coordinator/sort/rounds.js';
import { ParameterError } from '../../../proto/errors.js';
import { silentLogger } from '../../../proto/log.js';
import { smallBatches } from '../../helpers/small-batches.js';
import { tmpDir } from '../../helpers/tmp.js';

const ticks = (n: number): Promise<void> =>
  n === 0 ? Promise.resolve() : new Promise((resolve) => setImmediate(() => void ticks(n - 1).then(resolve)));

test('runRound calls onAllStarted once, after the last item started and before the round ends', async () => {
  const seen: string[] = [];
  const results = await runRound(
    silentLogger(),
    'round',
    [0, 1, 2, 3, 4],
    2,
    async (x) => {
      seen.push(`start ${x}`);
      await ticks(5 - x);
      seen.push(`done ${x}`);
      return x * 2;
    },
    { onAllStarted: () => seen.push('all started') },
  );
  assert.deepEqual(results, [0, 2, 4, 6, 8]);
  assert.equal(seen.filter((s) => s === 'all started').length, 1);
  const at = seen.indexOf('all started');
  assert.equal(seen[at - 1], 'start 4', seen.join(', '));
  // Item 4 is the last to finish here (it started last): the hook came while the round was draining.
  assert.ok(at < seen.indexOf('done 3') || at < seen.indexOf('done 4'), seen.join(', '));

  const loaded: string[] = [];
  await runRound(silentLogger(), 'loaded', [0, 1], 2, () => Promise.reject(new Error('not computed')), {
    load: (i) => i,
    onAllStarted: () => loaded.push('all started'),
  });
  assert.deepEqual(loaded, ['all started']);
});

test(
  'prefetched batches are the bytes read before the request, at most maxPrefetched, oldest evicted first',
  { timeout: 60_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-prefetch-');
    try {
      const { info, channels, work, spans } = await smallBatches(dir);
      const reference = new BatchEngine({ threads: 1 });
      const engine = new BatchEngine({ threads: 1, maxPrefetched: 2 });
      try {
        const expected = await Promise.all(spans.map((batch) => reference.snippets({ work, batch, channels })));
        assert.ok(
          expected.every((s) => s.length > 0),
          `every simulated batch has isolated spikes: ${expected.map((s) => s.length).join(', ')}`,
        );
        const prefetch = (batch: (typeof spans)[number]) =>
          engine.prefetch({ work, batch, segments: [], channels, drift: null });
        // Three prefetched with room for two: the first is evicted. Once the reads are done the file
        // is zeroed in place, so a batch read on request has no spikes while a prefetched one keeps them.
        spans.forEach(prefetch);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const fd = openSync(info.binPath, 'r+');
        try {
          writeSync(fd, Buffer.alloc(statSync(info.binPath).size), 0);
        } finally {
          closeSync(fd);
        }
        assert.equal((await engine.snippets({ work, batch: spans[0]!, channels })).length, 0, 'batch 0 was evicted');
        assert.deepEqual(await engine.snippets({ work, batch: spans[1]!, channels }), expected[1]);
        assert.deepEqual(await engine.snippets({ work, batch: spans[2]!, channels }), expected[2]);
        // Taken once: the next request reads the (now zero) file.
        assert.equal((await engine.snippets({ work, batch: spans[1]!, channels })).length, 0);
      } finally {
        await engine.close();
        await reference.close();
      }
    } finally {
      cleanup();
    }
  },
);

test('SPIKESHARD_PREFETCH_BATCHES sets the read-ahead (0 turns it off); a bad value is a ParameterError', () => {
  assert.equal(prefetchBatchCount(2, {}), 2);
  assert.equal(prefetchBatchCount(2, { SPIKESHARD_PREFETCH_BATCHES: '0' }), 0);
  assert.equal(prefetchBatchCount(2, { SPIKESHARD_PREFETCH_BATCHES: '5' }), 5);
  assert.throws(
    () => prefetchBatchCount(2, { SPIKESHARD_PREFETCH_BATCHES: 'two' }),
    (e: unknown) => e instanceof ParameterError && /an integer from 0 to 64/.test(e.message),
  );
});

test('SPIKESHARD_REQUESTS_IN_FLIGHT sets the local executor’s requests in flight (default 2); a bad value is a ParameterError', () => {
  assert.equal(requestsInFlight({}), 2);
  assert.equal(requestsInFlight({ SPIKESHARD_REQUESTS_IN_FLIGHT: '3' }), 3);
  for (const bad of ['0', '17', '1.5', 'two']) {
    assert.throws(
      () => requestsInFlight({ SPIKESHARD_REQUESTS_IN_FLIGHT: bad }),
      (e: unknown) => e instanceof ParameterError && /an integer from 1 to 16/.test(e.message),
    );
  }
  assert.equal(
    new LocalExecutor(0, undefined, undefined, { requestsInFlight: 3, statisticsWorkers: 0 }).concurrency,
    3,
  );
});
