// SPDX-License-Identifier: GPL-3.0-or-later
/** mtscomp `.cbin` + `.ch`: the writer and reader round-trip, random access, damage is reported by chunk. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { decodeChunk, encodeChunk } from '../../../native/lib/recording/mtscomp.js';
import {
  CbinReader,
  compressBin,
  discoverSession,
  inspectRecording,
  openRecording,
  readMtscompHeader,
  recordingFiles,
  verifyCbin,
} from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import { loadCpuBinding } from '../../../native/lib/load.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

/** A small simulated SpikeGLX recording (32 channels + sync, 3 s) and its compressed copy in another folder. */
function simulated(dir: string): { bin: string; cbin: string } {
  const sim = path.join(dir, 'sim');
  const r = runCli(['simulate', sim, '--channels', '32', '--seconds', '3', '--units', '4', '--seed', '5']);
  assert.equal(r.status, 0, r.stderr);
  const bin = path.join(sim, 'sim_g0_t0.imec0.ap.bin');
  return { bin, cbin: bin.replace(/\.bin$/, '.cbin') };
}

test('a hand-made chunk decodes by the formats.md rule (wrapping cumulative sum, F order)', async () => {
  // 4 samples × 2 channels; channel 1 crosses the int16 range so the diff wraps.
  const rows = Int16Array.from([100, 32767, 101, -32768, 99, -32767, -5, 0]);
  const diff = Int16Array.from([100, 1, -2, -104, 32767, 1, 1, 32767]); // channel-major, wrapped
  const compressed = zlib.deflateSync(new Uint8Array(diff.buffer));
  assert.deepEqual(compressed.subarray(0, 2), Buffer.from([0x78, 0x9c]));
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const cbin = path.join(dir, 'x.cbin');
    writeFileSync(cbin, compressed);
    writeFileSync(
      path.join(dir, 'x.ch'),
      JSON.stringify({
        algorithm: 'zlib',
        chunk_bounds: [0, 4],
        chunk_offsets: [0, compressed.length],
        chunk_order: 'F',
        dtype: 'int16',
        n_channels: 2,
        sample_rate: 30000.0,
        shape: [4, 2],
        version: '1.0',
      }),
    );
    {
      const reader = await CbinReader.open(cbin);
      const out = new Int16Array(8);
      await reader.readRows(0, 4, out);
      assert.deepEqual(out, rows);
      await reader.close();
      // The writer produces the same stream for the same samples.
      const binPath = path.join(dir, 'y.bin');
      writeFileSync(binPath, new Uint8Array(rows.buffer));
      const written = await compressBin(binPath, { nChannels: 2, sampleRateHz: 30000 });
      assert.deepEqual(readFileSync(written.cbinPath), compressed);
      assert.equal(
        written.header.sha1Uncompressed,
        createHash('sha1').update(new Uint8Array(rows.buffer)).digest('hex'),
      );
    }
  } finally {
    cleanup();
  }
});

test('full-range int16 samples survive encode and decode (wrapping across many tiles)', () => {
  const nSamples = 3001;
  const nChannels = 3;
  let seed = 99;
  const rows = Int16Array.from({ length: nSamples * nChannels }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed % 65536) - 32768;
  });
  const decoded = decodeChunk('x.cbin', 0, encodeChunk(rows, nSamples, nChannels), nSamples, nChannels);
  assert.deepEqual(decoded, rows);
});

test('the native time-difference undo checks its arrays and agrees sync and async', async () => {
  const native = loadCpuBinding();
  // Channel-major diffs of 3 samples × 2 channels; the second channel wraps past 32767.
  const diff = Int16Array.from([1, 2, 3, 32767, 1, 0]);
  const rows = new Int16Array(6);
  native.undoTimeDiff(diff, 3, 2, rows);
  assert.deepEqual(Array.from(rows), [1, 32767, 3, -32768, 6, -32768]);
  const again = new Int16Array(6);
  await native.undoTimeDiffAsync(diff, 3, 2, again);
  assert.deepEqual(again, rows);
  assert.throws(() => native.undoTimeDiff(diff, 3, 2, new Int16Array(5)), /rows: expected 6 elements/);
  assert.throws(() => native.undoTimeDiff(diff, 3, 2, diff), /rows: expected an array other than diff/);
  assert.throws(
    () => native.undoTimeDiffAsync(diff, 3, 2, new Float32Array(6) as never),
    /rows: expected an Int16Array/,
  );
});

test('a .cbin made from a simulated .bin reads byte-identically, whole and across chunk boundaries', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin } = simulated(dir);
    const { cbinPath, header } = await compressBin(bin, { nChannels: 33, sampleRateHz: 30000, chunkDurationS: 0.25 });
    assert.equal(header.chunkBounds.length - 1, 12);
    assert.deepEqual(await verifyCbin(cbinPath, { decode: true }), {
      compressedChecked: true,
      uncompressedChecked: true,
    });
    // The raw columns, sync included, equal the .bin's bytes.
    const reader = await CbinReader.open(cbinPath);
    const all = new Int16Array(header.nSamples * 33);
    await reader.readRows(0, header.nSamples, all);
    assert.deepEqual(Buffer.from(all.buffer), readFileSync(bin));
    await reader.close();

    const plain = await openRecording(bin);
    const compressed = await openRecording(cbinPath);
    assert.equal(compressed.info.nSamples, plain.info.nSamples);
    assert.equal(compressed.info.fileBytes, plain.info.fileBytes);
    assert.equal(compressed.info.compressed?.nChunks, 12);
    assert.deepEqual(await compressed.read(0, plain.info.nSamples), await plain.read(0, plain.info.nSamples));
    assert.deepEqual(await compressed.readSync(7000, 9000), await plain.readSync(7000, 9000));
    let seed = 17;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let k = 0; k < 20; k++) {
      const a = next(plain.info.nSamples);
      const b = Math.min(plain.info.nSamples, a + next(20_000));
      assert.deepEqual(await compressed.read(a, b), await plain.read(a, b), `samples ${a}..${b}`);
    }
    // A reader of scattered windows (statistics workers) decodes nothing ahead: the same bytes.
    const windows = await openRecording(cbinPath, { cbinPrefetchChunks: 0 });
    for (const [a, b] of [
      [100, 9000],
      [30_000, 31_000],
      [5000, 5001],
    ] as const) {
      assert.deepEqual(await windows.read(a, b), await plain.read(a, b), `samples ${a}..${b}, no prefetch`);
    }
    await windows.close();
    await assert.rejects(openRecording(cbinPath, { cbinPrefetchChunks: -1 }), {
      name: 'ParameterError',
      message: /prefetchChunks: expected an integer >= 0, got -1/,
    });
    await plain.close();
    await compressed.close();
  } finally {
    cleanup();
  }
});

test('consecutive batch reads with halos decode each chunk about once', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin } = simulated(dir);
    const { cbinPath, header } = await compressBin(bin, { nChannels: 33, sampleRateHz: 30000, chunkDurationS: 0.1 });
    // No read-ahead here (its own test is below): a chunk decoded ahead may finish after the chunks
    // read meanwhile, come out oldest and be evicted before it is read, so the count would depend on
    // the decodes' timing (a loaded CI machine counted 31 of 30 once).
    const reader = await CbinReader.open(cbinPath, undefined, { cacheBytes: 4 * 3000 * 33 * 2, prefetchChunks: 0 });
    const batch = 9000;
    const halo = 500;
    const out = new Int16Array((batch + 2 * halo) * 33);
    for (let s = 0; s < header.nSamples; s += batch) {
      const a = Math.max(0, s - halo);
      const b = Math.min(header.nSamples, s + batch + halo);
      await reader.readRows(a, b, out);
    }
    assert.equal(reader.decodedChunks, header.chunkBounds.length - 1);
    await reader.close();
  } finally {
    cleanup();
  }
});

test('chunks are decoded ahead only for forward reads, identically with or without prefetch', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin } = simulated(dir);
    const { cbinPath, header } = await compressBin(bin, { nChannels: 33, sampleRateHz: 30000, chunkDurationS: 0.25 });
    const bounds = header.chunkBounds;
    const want = readFileSync(bin);
    const rowsOf = (a: number, b: number): Buffer => want.subarray(a * 66, b * 66);
    const read = async (r: CbinReader, a: number, b: number): Promise<Buffer> => {
      const out = new Int16Array((b - a) * 33);
      await r.readRows(a, b, out);
      return Buffer.from(out.buffer);
    };
    // Random access: chunk 5 alone, then chunk 1: nothing decoded that was not asked for.
    const random = await CbinReader.open(cbinPath, undefined, { prefetchChunks: 2 });
    assert.deepEqual(await read(random, bounds[5]! + 3, bounds[5]! + 10), rowsOf(bounds[5]! + 3, bounds[5]! + 10));
    assert.deepEqual(await read(random, bounds[1]!, bounds[1]! + 1), rowsOf(bounds[1]!, bounds[1]! + 1));
    assert.equal(random.decodedChunks, 2);
    // Going forward (the read after continues in the last chunk read), two chunks ahead are
    // decoded; closing with them in flight is clean.
    assert.deepEqual(await read(random, bounds[1]! + 1, bounds[2]! + 5), rowsOf(bounds[1]! + 1, bounds[2]! + 5));
    await random.close();
    assert.equal(random.decodedChunks, 2 + 1 + 2);
    await assert.rejects(read(random, 0, 1), /closed/);
    // A planned read taken in pieces (as Recording reads a batch) decodes its chunks and, when the
    // reads jump (every other batch, as one of two workers), nothing past them.
    const strided = await CbinReader.open(cbinPath);
    for (const [a, b] of [
      [bounds[0]!, bounds[2]! + 100],
      [bounds[5]!, bounds[7]! + 100],
    ] as const) {
      strided.planRead(a, b);
      for (let s = a; s < b; s += 1000) {
        assert.deepEqual(await read(strided, s, Math.min(b, s + 1000)), rowsOf(s, Math.min(b, s + 1000)));
      }
    }
    assert.equal(strided.decodedChunks, 3 + 3);
    await strided.close();
    for (const prefetchChunks of [0, 1, 5]) {
      const r = await CbinReader.open(cbinPath, undefined, { prefetchChunks, cacheBytes: 0 });
      for (let s = 0; s < header.nSamples; s += 4000) {
        const e = Math.min(header.nSamples, s + 4000);
        assert.deepEqual(
          await read(r, Math.max(0, s - 300), e),
          rowsOf(Math.max(0, s - 300), e),
          `prefetch ${prefetchChunks}`,
        );
      }
      await r.close();
    }
    await assert.rejects(CbinReader.open(cbinPath, undefined, { prefetchChunks: -1 }), /prefetchChunks/);
  } finally {
    cleanup();
  }
});

test('a corrupt chunk and a truncated .cbin are InputErrors naming the file and the chunk', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin } = simulated(dir);
    const { cbinPath, header } = await compressBin(bin, { nChannels: 33, sampleRateHz: 30000, chunkDurationS: 0.5 });
    const good = readFileSync(cbinPath);
    const damaged = Buffer.from(good);
    const at = header.chunkOffsets[3]! + 40;
    for (let i = 0; i < 64; i++) damaged[at + i] = damaged[at + i]! ^ 0x5a;
    writeFileSync(cbinPath, damaged);
    const rec = await openRecording(cbinPath);
    await rec.read(0, header.chunkBounds[3]!); // chunks before the damage still read
    await assert.rejects(rec.read(header.chunkBounds[3]!, header.chunkBounds[3]! + 10), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(err.message, /sim_g0_t0\.imec0\.ap\.cbin/);
      assert.match(err.message, /chunk 3 /);
      return true;
    });
    await rec.close();
    await assert.rejects(verifyCbin(cbinPath), /differs from sha1_compressed/);

    writeFileSync(cbinPath, good);
    truncateSync(cbinPath, header.chunkOffsets[4]! + 10);
    for (const open of [openRecording, inspectRecording]) {
      await assert.rejects(open(cbinPath), (err: unknown) => {
        assert.ok(err instanceof InputError);
        assert.match(err.message, /sim_g0_t0\.imec0\.ap\.cbin/);
        assert.match(err.message, /chunk 4 of 6 .*truncated/);
        return true;
      });
    }
  } finally {
    cleanup();
  }
});

test('session discovery finds .ap.cbin + .ch + .meta like .ap.bin, and a .ch names its .cbin', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin } = simulated(dir);
    const other = path.join(dir, 'compressed', 'run_g0_t0.imec1.ap.bin');
    mkdirSync(path.dirname(other));
    copyFileSync(bin, other);
    copyFileSync(bin.replace(/\.bin$/, '.meta'), other.replace(/\.bin$/, '.meta'));
    const { cbinPath, chPath } = await compressBin(other, { nChannels: 33, sampleRateHz: 30000 });
    unlinkSync(other);
    const session = await discoverSession(dir);
    assert.deepEqual(
      session.probes.map((p) => [p.label, path.basename(p.binPath), p.chPath && path.basename(p.chPath)]),
      [
        ['imec0', 'sim_g0_t0.imec0.ap.bin', undefined],
        ['imec1', 'run_g0_t0.imec1.ap.cbin', 'run_g0_t0.imec1.ap.ch'],
      ],
    );
    assert.equal((await recordingFiles(chPath)).binPath, cbinPath);
    assert.equal((await recordingFiles(other.replace(/\.bin$/, '.meta'))).binPath, cbinPath);
    const info = await inspectRecording(session.probes[1]!);
    assert.equal(info.nSamples, 90_000);
    assert.equal(info.compressed?.chPath, chPath);
    assert.equal((await readMtscompHeader(chPath)).nChannels, 33);
  } finally {
    cleanup();
  }
});

test('a .ch that disagrees with the .meta is an InputError', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin, cbin } = simulated(dir);
    const { chPath } = await compressBin(bin, { nChannels: 33, sampleRateHz: 30000 });
    const ch = JSON.parse(readFileSync(chPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(chPath, JSON.stringify({ ...ch, dtype: 'float32' }));
    await assert.rejects(openRecording(cbin), /dtype: expected "int16"/);
    writeFileSync(chPath, JSON.stringify({ ...ch, n_channels: 11, shape: [90_000, 11] }));
    await assert.rejects(openRecording(cbin), /n_channels is 11 but .* 33 saved channels/);
  } finally {
    cleanup();
  }
});

/** The writer as it was before the native task pool: time differences in JavaScript, Node's zlib. */
function nodeZlibChunk(rows: Int16Array, nSamples: number, nChannels: number): Buffer {
  const diff = new Int16Array(nSamples * nChannels);
  for (let c = 0; c < nChannels; c++) {
    let previous = 0;
    for (let t = 0; t < nSamples; t++) {
      const v = rows[t * nChannels + c]!;
      diff[c * nSamples + t] = v - previous; // stored modulo 2^16
      previous = v;
    }
  }
  return zlib.deflateSync(new Uint8Array(diff.buffer), { level: -1 });
}

test('the native chunk codec: Node zlib bytes, exact round trip, damage named by file and chunk', () => {
  let seed = 7;
  const walk = (n: number, step: number): Int16Array => {
    let v = 0;
    return Int16Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      v += (seed % step) - (step >> 1);
      return v; // Int16Array wraps
    });
  };
  for (const [nSamples, nChannels, step] of [
    [1000, 33, 40],
    [257, 70, 65536],
    [1, 5, 9],
  ] as const) {
    const rows = walk(nSamples * nChannels, step);
    const z = encodeChunk(rows, nSamples, nChannels);
    assert.deepEqual(z, nodeZlibChunk(rows, nSamples, nChannels), `${nSamples} × ${nChannels}`);
    assert.deepEqual(decodeChunk('x.cbin', 0, z, nSamples, nChannels), rows);
  }
  const rows = walk(600 * 10, 50);
  const z = encodeChunk(rows, 600, 10);
  const damaged = Buffer.from(z);
  for (let i = 20; i < 60; i++) damaged[i] = damaged[i]! ^ 0x5a;
  const problems: [Uint8Array, number, RegExp][] = [
    [damaged, 600, /^x\.cbin: chunk 7 cannot be decompressed \(.+\); the file is corrupt$/],
    [z.subarray(0, z.length - 9), 600, /^x\.cbin: chunk 7 cannot be decompressed \(the zlib stream ends early\)/],
    [z, 601, /^x\.cbin: chunk 7 decompresses to 12000 bytes; 601 samples × 10 channels × 2 = 12020 expected/],
    [z, 599, /^x\.cbin: chunk 7 decompresses to 12000 bytes; 599 samples × 10 channels × 2 = 11980 expected/],
  ];
  for (const [bytes, nSamples, message] of problems) {
    assert.throws(
      () => decodeChunk('x.cbin', 7, bytes, nSamples, 10),
      (err: unknown) => err instanceof InputError && message.test(err.message),
    );
  }
  assert.throws(
    () => loadCpuBinding().encodeMtscompChunk(rows, 600, 10, 10),
    /level: expected an integer in \[-1, 9\]/,
  );
  assert.throws(
    () => loadCpuBinding().decodeMtscompChunkAsync(new Int16Array(4) as never, 2, 2, new Int16Array(4)),
    /compressed: expected a Uint8Array, got Int16Array/,
  );
});

test('chunks decoded and encoded many at once on the task pool equal one at a time', async () => {
  const native = loadCpuBinding();
  native.setThreads(3);
  try {
    assert.equal(native.taskPoolThreads(), 3);
    const nChannels = 20;
    const chunks = Array.from({ length: 24 }, (_, k) => {
      const nSamples = 500 + 37 * k;
      let v = k;
      const rows = Int16Array.from({ length: nSamples * nChannels }, (_, i) => (v += ((i * 7919 + k) % 61) - 30));
      return { nSamples, rows };
    });
    // Encoded all at once on the pool vs one by one on this thread: the same bytes.
    const encoded = await Promise.all(
      chunks.map((c) => native.encodeMtscompChunkAsync(c.rows, c.nSamples, nChannels, -1)),
    );
    chunks.forEach((c, k) => assert.deepEqual(encoded[k], encodeChunk(c.rows, c.nSamples, nChannels), `chunk ${k}`));
    // Decoded all at once (one of them damaged) vs one by one.
    const damaged = Buffer.from(encoded[5]!);
    damaged[damaged.length - 2] = damaged[damaged.length - 2]! ^ 0xff; // Adler-32 trailer
    const outs = chunks.map((c) => new Int16Array(c.nSamples * nChannels));
    const settled = await Promise.allSettled(
      chunks.map((c, k) =>
        native.decodeMtscompChunkAsync(k === 5 ? damaged : encoded[k]!, c.nSamples, nChannels, outs[k]!),
      ),
    );
    chunks.forEach((c, k) => {
      if (k === 5) {
        assert.equal(settled[k]!.status, 'rejected');
        assert.match(
          String((settled[k] as PromiseRejectedResult).reason),
          /cannot be decompressed \(incorrect data check\)/,
        );
        return;
      }
      assert.equal(settled[k]!.status, 'fulfilled');
      assert.deepEqual(outs[k], decodeChunk('x.cbin', k, encoded[k]!, c.nSamples, nChannels), `chunk ${k}`);
      assert.deepEqual(outs[k], c.rows);
    });
  } finally {
    native.setThreads(0);
  }
});

test('compress writes, whatever the thread count, the bytes of the Node zlib writer it replaced', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-cbin-');
  try {
    const { bin } = simulated(dir);
    const samples = readFileSync(bin);
    const rows = new Int16Array(samples.buffer, samples.byteOffset, samples.length / 2);
    const nChannels = 33;
    const written: Buffer[] = [];
    for (const threads of [1, 3]) {
      const cbinPath = path.join(dir, `t${threads}.cbin`);
      const { header } = await compressBin(bin, {
        nChannels,
        sampleRateHz: 30000,
        chunkDurationS: 0.2,
        cbinPath,
        threads,
      });
      const bounds = header.chunkBounds;
      const reference = Buffer.concat(
        bounds
          .slice(0, -1)
          .map((a, k) =>
            nodeZlibChunk(rows.subarray(a * nChannels, bounds[k + 1]! * nChannels), bounds[k + 1]! - a, nChannels),
          ),
      );
      written.push(readFileSync(cbinPath));
      assert.deepEqual(written[written.length - 1], reference, `threads ${threads}`);
      assert.deepEqual(await verifyCbin(cbinPath, { decode: true }), {
        compressedChecked: true,
        uncompressedChecked: true,
      });
    }
    assert.equal(loadCpuBinding().taskPoolThreads(), 3);
    // The CLI's --threads: 1-s chunks beside the .bin, the same bytes as one thread in this process.
    const cli = runCli(['compress', bin, '--threads', '2']);
    assert.equal(cli.status, 0, cli.stderr);
    const oneThread = path.join(dir, 'one.cbin');
    await compressBin(bin, { nChannels, sampleRateHz: 30000, cbinPath: oneThread, threads: 1 });
    assert.deepEqual(readFileSync(bin.replace(/\.bin$/, '.cbin')), readFileSync(oneThread));
    assert.match(runCli(['compress', bin, '--threads', '-1']).stderr, /--threads.*expected an integer >= 0/);
    await assert.rejects(
      compressBin(bin, { nChannels, sampleRateHz: 30000, threads: -1 }),
      /threads: expected an integer >= 0/,
    );
  } finally {
    loadCpuBinding().setThreads(0);
    cleanup();
  }
});
