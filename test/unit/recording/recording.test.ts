// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspectRecording, openRecording } from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { np1Meta, np24Meta, sampleValue, writeBin, writeSpikeGlx } from './fixtures.js';

const N = 700;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tmpDir();
  try {
    await fn(dir);
  } finally {
    cleanup();
  }
}

function expectedBlock(first: number, end: number, columns: number[]): Int16Array {
  const out = new Int16Array((end - first) * columns.length);
  for (let t = first; t < end; t++) {
    for (const [i, c] of columns.entries()) out[(t - first) * columns.length + i] = sampleValue(t, c);
  }
  return out;
}

const neural = Array.from({ length: 384 }, (_, c) => c);

test('openRecording from .ap.bin or .ap.meta gives the same description', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeSpikeGlx(base, np1Meta(N), N);
    for (const p of [`${base}.bin`, `${base}.meta`]) {
      const rec = await openRecording(p);
      try {
        const i = rec.info;
        assert.equal(i.format, 'spikeglx');
        assert.equal(i.binPath, `${base}.bin`);
        assert.equal(i.metaPath, `${base}.meta`);
        assert.equal(i.probeLabel, 'imec0');
        assert.equal(i.probeType, 'np1');
        assert.equal(i.nSavedChannels, 385);
        assert.equal(i.nChannels, 384);
        assert.equal(i.syncColumn, 384);
        assert.equal(i.nSamples, N);
        assert.equal(i.fileBytes, N * 770);
        assert.equal(i.durationS, N / 30000);
        assert.equal(i.uvPerCount[0], 2.34375);
        assert.deepEqual(i.problems, []);
      } finally {
        await rec.close();
      }
    }
  });
});

test('read and readWithHalo return the bytes written, across several chunks, sync excluded', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeSpikeGlx(base, np1Meta(N), N);
    // 3 samples per chunk: every read below spans many chunks and ends mid-chunk.
    const rec = await openRecording(`${base}.bin`, { readChunkBytes: 3 * 770 + 5 });
    try {
      assert.deepEqual(await rec.read(100, 250), expectedBlock(100, 250, neural));
      assert.deepEqual(await rec.read(0, 1), expectedBlock(0, 1, neural));
      assert.equal((await rec.read(5, 5)).length, 0);

      const mid = await rec.readWithHalo(200, 300, 30);
      assert.equal(mid.firstSample, 170);
      assert.equal(mid.endSample, 330);
      assert.deepEqual(mid.data, expectedBlock(170, 330, neural));

      const start = await rec.readWithHalo(10, 50, 30);
      assert.deepEqual([start.firstSample, start.endSample], [0, 80]);
      assert.deepEqual(start.data, expectedBlock(0, 80, neural));

      const end = await rec.readWithHalo(N - 20, N, 64);
      assert.deepEqual([end.firstSample, end.endSample], [N - 84, N]);
      assert.deepEqual(end.data, expectedBlock(N - 84, N, neural));

      assert.deepEqual(await rec.readSync(0, N), expectedBlock(0, N, [384]));

      // A caller-owned array is filled and a view of its start returned.
      const into = new Int16Array(400 * 384).fill(1);
      const view = await rec.read(300, 310, into);
      assert.equal(view.buffer, into.buffer);
      assert.deepEqual(view, expectedBlock(300, 310, neural));
      assert.equal(into[10 * 384], 1, 'values past the read are left alone');
      const haloInto = await rec.readWithHalo(N - 20, N, 64, into);
      assert.deepEqual(haloInto.data, expectedBlock(N - 84, N, neural));
      await assert.rejects(rec.read(0, 401, into), /into holds 153600 values; 401 samples × 384 channels need 153984/);
    } finally {
      await rec.close();
    }
    await assert.rejects(rec.read(0, 1), /closed/);
  });
});

test('reads outside the file, backwards or fractional are RangeErrors that say what is allowed', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeSpikeGlx(base, np1Meta(N), N);
    const rec = await openRecording(`${base}.bin`);
    try {
      for (const [a, b] of [
        [-1, 5],
        [5, 3],
        [0, N + 1],
        [1.5, 3],
      ] as const) {
        await assert.rejects(rec.read(a, b), (e: unknown) => {
          return (
            e instanceof RangeError && e.message.includes(`nSamples = ${N}`) && e.message.includes(`read(${a}, ${b})`)
          );
        });
      }
      await assert.rejects(rec.readWithHalo(0, 10, -1), RangeError);
      await assert.rejects(rec.readSync(0, N + 1), RangeError);
    } finally {
      await rec.close();
    }
  });
});

test('a .bin cut mid-sample is an InputError, or with allowPartialSample a problem line', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeSpikeGlx(base, np1Meta(N), N, 385, 300);
    await assert.rejects(openRecording(`${base}.bin`), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.file, `${base}.bin`);
      assert.match(e.message, /770 bytes per sample leaves 300 bytes over/);
      assert.match(e.message, /allowPartialSample: true/);
      assert.match(e.message, /--allow-partial-sample/);
      return true;
    });
    const rec = await openRecording(`${base}.bin`, { allowPartialSample: true });
    try {
      assert.equal(rec.info.nSamples, N);
      assert.ok(rec.info.problems.some((p) => /300 bytes over/.test(p) && /allowPartialSample/.test(p)));
      assert.deepEqual(await rec.read(N - 2, N), expectedBlock(N - 2, N, neural));
    } finally {
      await rec.close();
    }
  });
});

test('fileSizeBytes disagreeing with the file: the file is trusted and the problem recorded', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeSpikeGlx(base, np1Meta(N + 100), N);
    const info = await inspectRecording(`${base}.meta`);
    assert.equal(info.nSamples, N);
    assert.equal(info.problems.length, 1);
    assert.match(info.problems[0]!, new RegExp(`fileSizeBytes=${(N + 100) * 770} but the file holds ${N * 770} bytes`));
    assert.match(info.problems[0]!, /IBL/);
  });
});

test('a missing .bin, a missing .meta and other streams are InputErrors naming the file', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeFileSync(`${base}.meta`, np1MetaText());
    await assert.rejects(openRecording(`${base}.meta`), (e: unknown) => {
      return e instanceof InputError && e.file === `${base}.bin` && /no such file/.test(e.message);
    });
    const other = path.join(dir, 'other.imec1.ap');
    writeBin(`${other}.bin`, 10, 385);
    await assert.rejects(openRecording(`${other}.bin`), (e: unknown) => {
      return e instanceof InputError && e.file === `${other}.meta` && /no such file/.test(e.message);
    });
    await assert.rejects(openRecording(path.join(dir, 'x.imec0.lf.bin')), /LF stream/);
    await assert.rejects(openRecording(path.join(dir, 'x.imec0.ap.cbin')), /no such file/);
    await assert.rejects(openRecording(path.join(dir, 'absent.ap.bin')), /no such file/);
  });
});

test('an empty .bin holds no sample', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec0.ap');
    writeSpikeGlx(base, np1Meta(0), 0);
    await assert.rejects(openRecording(`${base}.bin`), /not one whole sample/);
  });
});

test('sync channel of a four-shank recording is separated from its 384 neural channels', async () => {
  await withDir(async (dir) => {
    const base = path.join(dir, 'run_g0_t0.imec3.ap');
    writeSpikeGlx(base, np24Meta(50), 50);
    const rec = await openRecording(`${base}.bin`);
    try {
      assert.equal(rec.info.probeLabel, 'imec3');
      const data = await rec.read(0, 50);
      assert.equal(data.length, 50 * 384);
      assert.deepEqual(data, expectedBlock(0, 50, neural));
      assert.deepEqual(await rec.readSync(10, 20), expectedBlock(10, 20, [384]));
    } finally {
      await rec.close();
    }
  });
});

function np1MetaText(): string {
  return Object.entries(np1Meta(N))
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}
