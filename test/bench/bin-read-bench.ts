// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench:bin-read -- FILE [--batch 65536] [--halo 64] [--batches 16] [--passes 3] [--threads 0]
 * [--chunk 8388608]`:
 * ms per batch of all neural channels (a 384-channel batch of ~65.6 k samples is ~50 MB) and MB/s,
 * for the JavaScript reader (FileHandle.read in chunks on libuv's pool, then a copy of each row:
 * `nativeRead: false`) and the native one (pread on the native threads, gathered natively), read the
 * way the rounds read them (Recording.read of consecutive batches with halos): into one caller
 * array (`into`), and into a fresh array per batch (`fresh`, as BatchEngine reads). MB/s counts the file bytes the batch spans (all saved columns). The file is read once
 * before timing, so a file that fits in memory is measured from the page cache; old and new take
 * turns pass by pass. Checks that both return the same values; asserts nothing else.
 */
import { parseArgs } from 'node:util';
import { openRecording, type Recording } from '../../native/lib/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    batch: { type: 'string', default: '65536' },
    halo: { type: 'string', default: '64' },
    batches: { type: 'string', default: '16' },
    passes: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
    chunk: { type: 'string', default: String(8 * 1024 * 1024) },
  },
});
if (positionals.length !== 1) {
  console.error(
    'usage: npm run bench:bin-read -- FILE [--batch 65536] [--halo 64] [--batches 16] [--passes 3] [--threads 0] ' +
      '[--chunk 8388608]',
  );
  process.exit(2);
}
const file = positionals[0]!;
const batch = Number(values.batch);
const halo = Number(values.halo);
const readThreads = Number(values.threads);
const readers = {
  old: await openRecording(file, { nativeRead: false }),
  new: await openRecording(file, { nativeRead: true, readThreads, readChunkBytes: Number(values.chunk) }),
};
const { nSamples, nChannels, nSavedChannels } = readers.new.info;
const ranges: [number, number][] = [];
for (let s = 0; s < nSamples && ranges.length < Number(values.batches); s += batch) {
  ranges.push([Math.max(0, s - halo), Math.min(nSamples, s + batch + halo)]);
}
const out = new Int16Array((batch + 2 * halo) * nChannels);
const check = new Int16Array(out.length);
console.log(
  `${file}: ${nChannels} of ${nSavedChannels} columns, ${ranges.length} batches of ${batch} + 2 × ${halo} samples ` +
    `(${(((batch + 2 * halo) * nSavedChannels * 2) / 1e6).toFixed(1)} MB), native threads ${readThreads || 'default'}, ` +
    `native readChunkBytes ${values.chunk}`,
);

async function pass(rec: Recording, fresh: boolean): Promise<{ msPerBatch: number; mbPerS: number }> {
  let bytes = 0;
  const start = performance.now();
  for (const [a, b] of ranges) {
    await rec.read(a, b, fresh ? undefined : out);
    bytes += (b - a) * nSavedChannels * 2;
  }
  const ms = performance.now() - start;
  return { msPerBatch: ms / ranges.length, mbPerS: bytes / 1e3 / ms };
}

// Same values from both readers, batch by batch (this pass also brings the file into the page cache).
let mismatches = 0;
for (const [a, b] of ranges) {
  const n = (b - a) * nChannels;
  await readers.old.read(a, b, check);
  await readers.new.read(a, b, out);
  for (let i = 0; i < n; i++) if (out[i] !== check[i]) mismatches++;
}
console.log(mismatches === 0 ? 'old and new reads are equal' : `MISMATCH: ${mismatches} values differ`);

for (let p = 1; p <= Number(values.passes); p++) {
  for (const fresh of [false, true]) {
    for (const [name, rec] of Object.entries(readers)) {
      const { msPerBatch, mbPerS } = await pass(rec, fresh);
      const mode = fresh ? 'fresh' : 'into ';
      console.log(`pass ${p} ${mode} ${name}: ${msPerBatch.toFixed(1)} ms per batch, ${mbPerS.toFixed(0)} MB/s`);
    }
  }
}
await readers.old.close();
await readers.new.close();
if (mismatches !== 0) process.exitCode = 1;
