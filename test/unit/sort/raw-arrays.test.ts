// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw batch arrays reused by the engine: the pool's rules, and reads into a reused array give the same results. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchEngine } from '../../../native/lib/index.js';
import { RawArrayPool } from '../../../native/lib/engine/raw-arrays.js';
import { smallBatches } from '../../helpers/small-batches.js';
import { tmpDir } from '../../helpers/tmp.js';

test('RawArrayPool gives back whole arrays of the length asked, at most maxArrays, each once', () => {
  const pool = new RawArrayPool(2);
  const a = new Int16Array(10);
  const b = new Int16Array(10);
  const c = new Int16Array(6);
  assert.equal(pool.take(10), undefined);
  pool.give(a);
  pool.give(a.subarray(0, 10)); // the same buffer again: kept once
  pool.give(new Int16Array(20).subarray(5, 15)); // a view into a larger buffer: not kept
  assert.equal(pool.size, 1);
  pool.give(c);
  pool.give(b); // over maxArrays: dropped
  assert.equal(pool.size, 2);
  assert.equal(pool.take(8), undefined);
  assert.equal(pool.take(10), a);
  assert.equal(pool.take(10), undefined);
  assert.equal(pool.take(6), c);
  assert.equal(pool.size, 0);
  pool.give(b);
  pool.clear();
  assert.equal(pool.take(10), undefined);
});

test(
  'the engine reads later batches into arrays of finished ones, with the same results',
  { timeout: 60_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-raw-arrays-');
    try {
      const { channels, work, spans } = await smallBatches(dir);
      const fresh = new BatchEngine({ threads: 1, maxPooledArrays: 0 });
      const pooled = new BatchEngine({ threads: 1, maxPooledArrays: 2 });
      try {
        const expected = await Promise.all(spans.map((batch) => fresh.snippets({ work, batch, channels })));
        assert.equal(fresh.pooledRawArrays, 0);
        assert.ok(expected.every((s) => s.length > 0));
        // One after the other: each batch is read into the array the previous one gave back.
        for (const [i, batch] of spans.entries()) {
          assert.deepEqual(await pooled.snippets({ work, batch, channels }), expected[i]);
          assert.equal(pooled.pooledRawArrays, 1);
        }
        // Three at once: three arrays in use, two kept afterwards; the stale values are all overwritten.
        const together = await Promise.all([2, 0, 1].map((i) => pooled.snippets({ work, batch: spans[i]!, channels })));
        assert.deepEqual(together, [expected[2], expected[0], expected[1]]);
        assert.equal(pooled.pooledRawArrays, 2);
        await pooled.close();
        assert.equal(pooled.pooledRawArrays, 0);
      } finally {
        await pooled.close();
        await fresh.close();
      }
    } finally {
      cleanup();
    }
  },
);
