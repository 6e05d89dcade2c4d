// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ClusterOrderedRows } from '../../../coordinator/formats/cluster-rows.js';
import { writeRecord } from '../../../coordinator/formats/record.js';
import {
  MemorySpikeFeatures,
  RecordSpikeFeatures,
  SelectedSpikeFeatures,
  featurePartOf,
} from '../../../coordinator/formats/spike-features.js';
import { groupByCluster } from '../../../coordinator/postprocess/clusters.js';
import { tmpDir } from '../../helpers/tmp.js';

const W = 5;
const COUNTS = [7, 0, 23, 11];

/** Spikes whose every PC value names the spike and column, in extraction records and in memory. */
function fixture(dir: string): { records: RecordSpikeFeatures; memory: MemorySpikeFeatures } {
  const total = COUNTS.reduce((a, b) => a + b, 0);
  const pc = Float32Array.from({ length: total * W }, (_, i) => Math.floor(i / W) * 10 + (i % W));
  const tf = new Float32Array(total);
  let first = 0;
  const parts = COUNTS.map((count, b) => {
    const file = path.join(dir, `batch-${b}.rec`);
    writeRecord(file, 'extraction/batch', {
      templateFeatures: tf.slice(first, first + count),
      pcFeatures: pc.slice(first * W, (first + count) * W),
    });
    first += count;
    return featurePartOf(file, count);
  });
  return {
    records: new RecordSpikeFeatures(parts, { template: 1, pc: W }),
    memory: new MemorySpikeFeatures(total, tf, pc),
  };
}

test('a cluster-ordered copy holds each wanted cluster as its gathered rows, for any staging size', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { records, memory } = fixture(dir);
    const n = memory.nSpikes;
    // Four clusters interleaved over the spikes; cluster 2 is not wanted, cluster 3 is empty.
    const clusters = Uint32Array.from({ length: n }, (_, s) => (s % 7 === 3 ? 2 : s % 3 === 0 ? 0 : 1));
    const members = groupByCluster(clusters, 4);
    const wanted = Uint8Array.of(1, 1, 0, 1);
    for (const source of [records, memory]) {
      // 1 row: one flush per row; 6 rows: flushes mid-batch; everything at once.
      for (const stageRows of [1, 6, 1000]) {
        const file = path.join(dir, 'scratch', `copy-${stageRows}.f32`);
        const copy = new ClusterOrderedRows(source, 'pc', members, wanted, file, stageRows * W * 4);
        try {
          for (const c of [0, 1, 3]) assert.deepEqual(copy.rows(c), memory.gather('pc', members[c]!), `cluster ${c}`);
          assert.equal(copy.has(2), false);
          assert.throws(() => copy.rows(2), /cluster 2 has no rows/);
          assert.equal(copy.readStats.reads, 2, 'one read per non-empty cluster');
          const copied = members[0]!.length + members[1]!.length;
          assert.equal(copy.writeStats.bytes, copied * W * 4);
          // Each flush writes each cluster present once.
          if (stageRows === 1) assert.equal(copy.writeStats.writes, copied);
          if (stageRows === 1000) assert.equal(copy.writeStats.writes, 2);
        } finally {
          copy.close();
        }
        assert.equal(existsSync(file), false, 'close() deletes the copy');
      }
    }
    records.close();
  } finally {
    cleanup();
  }
});

test('a cluster-ordered copy reads through a selection of spikes', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { records, memory } = fixture(dir);
    const keep = Uint8Array.from({ length: memory.nSpikes }, (_, s) => (s % 4 === 1 ? 0 : 1));
    const view = new SelectedSpikeFeatures(records, keep);
    const clusters = Uint32Array.from({ length: view.nSpikes }, (_, s) => s % 2);
    const members = groupByCluster(clusters, 2);
    const copy = new ClusterOrderedRows(view, 'pc', members, Uint8Array.of(1, 1), path.join(dir, 'c.f32'), 64);
    try {
      for (const c of [0, 1]) {
        const rows = copy.rows(c);
        assert.deepEqual(rows, view.gather('pc', members[c]!));
        // The first value of each row names the spike of the base it came from.
        const baseSpikes = Array.from({ length: memory.nSpikes }, (_, s) => s).filter((s) => keep[s]);
        members[c]!.forEach((s, i) => assert.equal(rows[i * W], baseSpikes[s]! * 10));
      }
    } finally {
      copy.close();
      view.close();
    }
  } finally {
    cleanup();
  }
});

test('a cluster-ordered copy refuses a spike in two clusters', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { memory } = fixture(dir);
    const members = [Int32Array.of(0, 1), Int32Array.of(1, 2)];
    assert.throws(
      () => new ClusterOrderedRows(memory, 'pc', members, Uint8Array.of(1, 1), path.join(dir, 'c.f32')),
      /spike 1 of cluster 1/,
    );
  } finally {
    cleanup();
  }
});
