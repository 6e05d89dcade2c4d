// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { locateRecordArrays, writeRecord } from '../../../coordinator/formats/record.js';
import {
  MemorySpikeFeatures,
  RecordSpikeFeatures,
  featurePartOf,
  type FeatureKind,
} from '../../../coordinator/formats/spike-features.js';
import { tmpDir } from '../../helpers/tmp.js';

const TW = 4;
const PW = 6;
const COUNTS = [5, 0, 40, 3];

/** Batches whose every feature value names its spike and column, saved as extraction records. */
function fixture(dir: string): { records: RecordSpikeFeatures; memory: MemorySpikeFeatures } {
  const total = COUNTS.reduce((a, b) => a + b, 0);
  const tf = new Float32Array(total * TW);
  const pc = new Float32Array(total * PW);
  for (let s = 0; s < total; s++) {
    for (let k = 0; k < TW; k++) tf[s * TW + k] = s * 100 + k;
    for (let k = 0; k < PW; k++) pc[s * PW + k] = -(s * 100 + k);
  }
  let first = 0;
  const parts = COUNTS.map((count, b) => {
    const file = path.join(dir, `batch-${b}.rec`);
    writeRecord(file, 'extraction/batch', {
      samples: new Float64Array(count),
      templateFeatures: tf.slice(first * TW, (first + count) * TW),
      pcFeatures: pc.slice(first * PW, (first + count) * PW),
      capped: false,
    });
    first += count;
    return featurePartOf(file, count);
  });
  return {
    records: new RecordSpikeFeatures(parts, { template: TW, pc: PW }),
    memory: new MemorySpikeFeatures(total, tf, pc),
  };
}

test('features gathered from extraction records equal the in-memory rows, sparse and dense', () => {
  const { dir, cleanup } = tmpDir();
  const { records, memory } = fixture(dir);
  try {
    assert.equal(records.nSpikes, 48);
    // Sparse rows (one read per run, a run across two consecutive rows), a batch read whole
    // (many rows of batch 2), the first and the last spike.
    const cases = [[0, 1, 4, 45], [5, 6, 7, 8, 9, 10, 11, 12, 13, 20, 44], [47], [], [3, 4, 5]];
    for (const kind of ['template', 'pc'] as FeatureKind[]) {
      for (const rows of cases) {
        const got = records.gather(kind, rows);
        assert.deepEqual(got, memory.gather(kind, rows), `${kind} rows ${rows.join(',')}`);
        const w = records.width(kind);
        rows.forEach((r, i) => assert.equal(Math.abs(got[i * w + 1]!), r * 100 + 1));
      }
    }
  } finally {
    records.close();
    cleanup();
  }
});

test('a scan of the kept rows gives them in spike order, like the in-memory features', () => {
  const { dir, cleanup } = tmpDir();
  const { records, memory } = fixture(dir);
  try {
    const keep = new Uint8Array(48).map((_, i) => (i % 3 === 0 || i > 44 ? 1 : 0));
    for (const kind of ['template', 'pc'] as FeatureKind[]) {
      const collect = (f: RecordSpikeFeatures | MemorySpikeFeatures, k: Uint8Array | null): number[] => {
        const out: number[] = [];
        f.scan(kind, k, (chunk) => out.push(...chunk));
        return out;
      };
      assert.deepEqual(collect(records, keep), collect(memory, keep));
      assert.deepEqual(collect(records, null), collect(memory, null));
      assert.equal(collect(records, keep).length, keep.reduce((a, b) => a + b, 0) * records.width(kind));
    }
  } finally {
    records.close();
    cleanup();
  }
});

test('rows out of order or out of range are refused, naming the row', () => {
  const { dir, cleanup } = tmpDir();
  const { records } = fixture(dir);
  try {
    assert.throws(() => records.gather('pc', [3, 2]), /ascending.*row 1 is 2/);
    assert.throws(() => records.gather('pc', [48]), /below 48; row 0 is 48/);
    assert.throws(
      () => locateRecordArrays(path.join(dir, 'batch-0.rec'), ['capped']),
      /"capped" expected a typed array/,
    );
  } finally {
    records.close();
    cleanup();
  }
});
