// SPDX-License-Identifier: GPL-3.0-or-later
/** The native batch read (pread on the native threads, native column gather) against the JavaScript reader. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, openSync, closeSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compressBin, openRecording, type OpenRecordingOptions, type Recording } from '../../../native/lib/index.js';
import { loadCpuBinding } from '../../../native/lib/load.js';
import { gatherColumns } from '../../../native/lib/recording/row-gather.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { np1Meta, sampleValue, writeBin, writeSpikeGlx } from './fixtures.js';

const N = 1000;

/** Eleven columns: channels in columns 7, 2, 9, 0, 3 (a scattered list), sync in column 10. */
const scattered = {
  sampleRateHz: 30000,
  nSavedChannels: 11,
  channels: [7, 2, 9, 0, 3].map((column, i) => ({ column, xUm: 0, yUm: 20 * i })),
  uvPerCount: 0.195,
  syncColumn: 10,
};

interface Fixture {
  /** The recording's `.bin` and its compressed copy (another folder, same description). */
  bin: string;
  cbin: string;
  columns: number[];
  sync: number;
}

/** A SpikeGLX NP1.0 recording (a contiguous block of 384 of 385 columns) and a plain one (a scattered list). */
async function fixtures(dir: string): Promise<Fixture[]> {
  const np1 = path.join(dir, 'np1', 'run_g0_t0.imec0.ap');
  const plain = path.join(dir, 'plain', 'tetrodes');
  mkdirSync(path.dirname(np1));
  mkdirSync(path.dirname(plain));
  mkdirSync(path.join(dir, 'compressed'));
  writeSpikeGlx(np1, np1Meta(N), N);
  writeBin(`${plain}.bin`, N, 11);
  writeFileSync(`${plain}.json`, JSON.stringify(scattered));
  const np1Cbin = path.join(dir, 'compressed', 'run_g0_t0.imec0.ap.cbin');
  const plainCbin = path.join(dir, 'compressed', 'tetrodes.cbin');
  // Chunks of 90 samples: reads cross chunk boundaries of the .cbin.
  await compressBin(`${np1}.bin`, { nChannels: 385, sampleRateHz: 30000, chunkDurationS: 0.003, cbinPath: np1Cbin });
  await compressBin(`${plain}.bin`, { nChannels: 11, sampleRateHz: 30000, chunkDurationS: 0.003, cbinPath: plainCbin });
  copyFileSync(`${np1}.meta`, np1Cbin.replace(/\.cbin$/, '.meta'));
  copyFileSync(`${plain}.json`, plainCbin.replace(/\.cbin$/, '.json'));
  return [
    { bin: `${np1}.bin`, cbin: np1Cbin, columns: Array.from({ length: 384 }, (_, c) => c), sync: 384 },
    { bin: `${plain}.bin`, cbin: plainCbin, columns: [7, 2, 9, 0, 3], sync: 10 },
  ];
}

function expectedBlock(first: number, end: number, columns: number[]): Int16Array {
  const out = new Int16Array((end - first) * columns.length);
  for (let t = first; t < end; t++) {
    for (const [i, c] of columns.entries()) out[(t - first) * columns.length + i] = sampleValue(t, c);
  }
  return out;
}

async function withRecording<T>(
  file: string,
  options: Partial<OpenRecordingOptions>,
  fn: (rec: Recording) => Promise<T>,
): Promise<T> {
  const rec = await openRecording(file, options);
  try {
    return await fn(rec);
  } finally {
    await rec.close();
  }
}

/** Ranges at the start, inside, at the end, of one sample, empty, and the whole file. */
const RANGES: [number, number][] = [
  [0, 1],
  [0, 137],
  [95, 640],
  [N - 3, N],
  [500, 500],
  [0, N],
];

/** Every read a round makes, as one array of bytes per read. */
async function readAll(rec: Recording): Promise<Int16Array[]> {
  const reads: Int16Array[] = [];
  for (const [a, b] of RANGES) reads.push(await rec.read(a, b));
  reads.push(await rec.readSync(3, 700));
  reads.push((await rec.readWithHalo(10, 200, 64)).data);
  const into = new Int16Array(900 * rec.info.nChannels).fill(-5);
  const view = await rec.read(100, 900, into);
  assert.equal(view.buffer, into.buffer);
  reads.push(into);
  return reads;
}

test('native and JavaScript reads are equal byte for byte: .bin and .cbin, contiguous block and column list', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    for (const f of await fixtures(dir)) {
      for (const file of [f.bin, f.cbin]) {
        const old = await withRecording(file, { nativeRead: false }, readAll);
        // Chunks of one sample, of a few samples and a bit, and larger than any read; thread
        // counts of one, a few, and more than the samples of some reads.
        for (const readChunkBytes of [1, 3 * 2 * 385 + 5, 1 << 20]) {
          for (const readThreads of [0, 1, 3, 64]) {
            const fresh = await withRecording(file, { nativeRead: true, readChunkBytes, readThreads }, readAll);
            assert.equal(fresh.length, old.length);
            for (const [i, want] of old.entries()) {
              const got = fresh[i]!;
              assert.deepEqual(
                Buffer.from(got.buffer, got.byteOffset, got.byteLength),
                Buffer.from(want.buffer, want.byteOffset, want.byteLength),
                `${file} read ${i}, readChunkBytes ${readChunkBytes}, readThreads ${readThreads}`,
              );
            }
          }
        }
        // And both equal the values written.
        assert.deepEqual(old[2], expectedBlock(95, 640, f.columns));
        assert.deepEqual(old[5], expectedBlock(0, N, f.columns));
        assert.deepEqual(old[6], expectedBlock(3, 700, [f.sync]));
      }
    }
  } finally {
    cleanup();
  }
});

test('a .bin that shrinks while open: the native read names the file and the byte, as the JavaScript one does', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const [np1] = await fixtures(dir);
    const bin = np1!.bin;
    const messages: string[] = [];
    for (const nativeRead of [true, false]) {
      writeSpikeGlx(bin.replace(/\.bin$/, ''), np1Meta(N), N);
      await withRecording(bin, { nativeRead, readThreads: 4 }, async (rec) => {
        // 300 whole samples and 100 bytes of the next.
        truncateSync(bin, 300 * 770 + 100);
        assert.deepEqual(await rec.read(10, 290), expectedBlock(10, 290, np1!.columns));
        await assert.rejects(rec.read(200, 400), (e: unknown) => {
          assert.ok(e instanceof InputError);
          assert.equal(e.file, bin);
          messages.push(e.message);
          return true;
        });
        // Entirely past the new end: the first byte asked for is missing.
        await assert.rejects(rec.read(500, 600), new RegExp(`ended at byte ${500 * 770} while ${N * 770} bytes`));
      });
    }
    assert.match(messages[0]!, new RegExp(`ended at byte ${300 * 770 + 100} while ${N * 770} bytes were expected`));
    assert.equal(messages[0], messages[1]);
  } finally {
    cleanup();
  }
});

test('close() during native reads waits for them; the descriptor is not reused under a read', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const [np1, plain] = await fixtures(dir);
    for (let round = 0; round < 5; round++) {
      const rec = await openRecording(np1!.bin, { readThreads: 3, readChunkBytes: 4096 });
      const reads = [rec.read(0, N), rec.read(100, 700), rec.readSync(0, N)];
      let settled = 0;
      for (const r of reads) void r.then(() => settled++);
      await rec.close();
      assert.equal(settled, reads.length, 'close() resolved before the reads in flight');
      // The freed descriptor goes to other files now; the reads above hold their own data.
      const other = openSync(plain!.bin, 'r');
      closeSync(other);
      assert.deepEqual(await reads[0], expectedBlock(0, N, np1!.columns));
      assert.deepEqual(await reads[1], expectedBlock(100, 700, np1!.columns));
      assert.deepEqual(await reads[2], expectedBlock(0, N, [384]));
      await assert.rejects(rec.read(0, 1), /closed/);
    }
  } finally {
    cleanup();
  }
});

test('gatherColumns picks columns by definition; the bindings check their arguments', () => {
  const nRows = 6;
  const nSaved = 5;
  const rows = Int16Array.from({ length: nRows * nSaved }, (_, i) => 3 * i - 40);
  for (const columns of [[0, 1, 2, 3, 4], [1, 2], [4], [3, 0, 3]]) {
    const out = new Int16Array(nRows * columns.length);
    gatherColumns(rows, nRows, nSaved, Int32Array.from(columns), out, 4);
    const want = Int16Array.from({ length: out.length }, (_, i) => {
      const t = Math.floor(i / columns.length);
      return rows[t * nSaved + columns[i % columns.length]!]!;
    });
    assert.deepEqual(out, want, `columns ${columns.join(',')}`);
  }
  const b = loadCpuBinding();
  const out = new Int16Array(nRows * 2);
  assert.throws(() => b.gatherColumns(rows, nRows, nSaved, Int32Array.of(0, 5), out, 0), {
    name: 'RangeError',
    message: /columns\[1\]: expected a column in \[0, nSaved = 5\), got 5/,
  });
  assert.throws(() => b.gatherColumns(rows, nRows, nSaved, Int32Array.of(0, 1), new Int16Array(11), 0), RangeError);
  assert.throws(() => b.gatherColumns(rows, nRows, nSaved, Int32Array.of(0, 1), rows.subarray(0, 12), 0), /overlap/);
  assert.throws(
    () => b.gatherColumns(new Float32Array(30) as unknown as Int16Array, nRows, nSaved, Int32Array.of(0), out, 0),
    TypeError,
  );
  assert.throws(() => b.readBinRows(0, 0, 2, 5, Int32Array.of(-1), new Int16Array(2), 1024, 0), RangeError);
  assert.throws(() => b.readBinRows(0, 0, 2, 5, new Int32Array(0), new Int16Array(0), 1024, 0), /at least one column/);
  assert.throws(() => b.readBinRows(0, 0, 2, 5, Int32Array.of(1), new Int16Array(3), 1024, 0), RangeError);
  assert.throws(() => b.readBinRows(0, 0, 2, 5, Int32Array.of(1), new Int16Array(2), 0, 0), RangeError);
});
