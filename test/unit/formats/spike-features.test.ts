// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { locateRecordArrays, writeRecord } from '../../../coordinator/formats/record.js';
import {
  MemorySpikeFeatures,
  RecordSpikeFeatures,
  SelectedSpikeFeatures,
  featurePartOf,
  type FeatureKind,
  type SpikeFeatures,
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

test('a scan keeps every bit of the kept rows, in long runs and short ones', () => {
  // 300 spikes × 8 floats: a run of 100 kept rows (800 floats, one copy), then kept rows one or two
  // at a time; every value a distinct NaN payload or number, compared as bits.
  const W = 8;
  const n = 300;
  const bits = new Int32Array(n * W).map((_, i) => (i % 5 === 0 ? 0x7fc00000 + i : i * 7919));
  const values = new Float32Array(bits.buffer);
  const keep = new Uint8Array(n).map((_, i) => (i < 100 || i % 3 !== 0 ? 1 : 0));
  const features = new MemorySpikeFeatures(n, new Float32Array(n), values);
  const got: number[] = [];
  features.scan('pc', keep, (chunk) => got.push(...new Int32Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  const want: number[] = [];
  for (let s = 0; s < n; s++) if (keep[s]) for (let k = 0; k < W; k++) want.push(bits[s * W + k]!);
  assert.equal(want.length, (100 + 134) * W);
  assert.deepEqual(got, want);
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

/** All rows of `kind`, scanned with `keep`, as one list. */
function scanned(f: SpikeFeatures, kind: FeatureKind, keep: Uint8Array | null): number[] {
  const out: number[] = [];
  f.scan(kind, keep, (chunk) => out.push(...chunk));
  return out;
}

test('a selection renumbers the kept spikes; views of views compose; template rows are padded or cut', () => {
  const { dir, cleanup } = tmpDir();
  const { records, memory } = fixture(dir);
  try {
    // Spikes of every batch but the empty one; a second selection keeps every other one of those.
    const first = new Uint8Array(48).map((_, i) => (i % 5 === 1 || i >= 44 ? 1 : 0));
    const chosen = Array.from(first.keys()).filter((i) => first[i]);
    for (const base of [records, memory]) {
      const view = new SelectedSpikeFeatures(base, first);
      assert.equal(view.nSpikes, chosen.length);
      assert.equal(view.width('template'), TW);
      for (const kind of ['template', 'pc'] as FeatureKind[]) {
        // Row i of the view is base row chosen[i], whose values name it (s·100 + column).
        assert.deepEqual(view.gather(kind, [0, 2, chosen.length - 1]), base.gather(kind, [1, 11, 47]));
        assert.deepEqual(scanned(view, kind, null), Array.from(base.gather(kind, chosen)));
      }
      const second = Uint8Array.from(chosen, (_, i) => (i % 2 === 0 ? 1 : 0));
      const evens = chosen.filter((_, i) => i % 2 === 0);
      const wide = new SelectedSpikeFeatures(view, second, TW + 2);
      const narrow = new SelectedSpikeFeatures(view, second, 2);
      assert.equal(wide.nSpikes, evens.length);
      assert.deepEqual(scanned(wide, 'pc', null), Array.from(base.gather('pc', evens)));
      // The same rows as a keep mask on the view's scan.
      assert.deepEqual(scanned(view, 'pc', second), scanned(wide, 'pc', null));
      const rows = wide.gather('template', [1, 2]);
      assert.equal(rows.length, 2 * (TW + 2));
      assert.deepEqual(Array.from(rows.subarray(0, TW + 2)), [
        evens[1]! * 100,
        evens[1]! * 100 + 1,
        evens[1]! * 100 + 2,
        evens[1]! * 100 + 3,
        0,
        0,
      ]);
      assert.deepEqual(
        scanned(narrow, 'template', null),
        evens.flatMap((s) => [s * 100, s * 100 + 1]),
      );
      const half = Uint8Array.from({ length: evens.length }, (_, i) => (i < 3 ? 1 : 0));
      assert.deepEqual(scanned(wide, 'template', half).length, 3 * (TW + 2));
      assert.throws(() => new SelectedSpikeFeatures(base, new Uint8Array(47)), /selection of 47 spikes.*48 spikes/);
      assert.throws(() => view.scan('pc', new Uint8Array(3), () => {}), /keep mask of 3 spikes/);
      assert.throws(() => view.gather('pc', [chosen.length]), /below/);
    }
  } finally {
    records.close();
    cleanup();
  }
});
