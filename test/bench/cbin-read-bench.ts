// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench:cbin-read -- FILE [--batch 65600] [--halo 1024] [--passes 1] [--threads 0]`: how fast a sort's
 * batches come out of a recording (`.ap.bin`, `.ap.cbin` + `.ch`, or a plain `.bin`), read the
 * way the rounds read them (Recording.read of each batch with its halos, one after the other).
 * Prints decoded MB/s (int16 of all neural channels) and × real time per pass; asserts nothing.
 * For a `.cbin` this is the decode speed (inflate + time-difference undo, natively on the engine's
 * task pool of `--threads` threads, 0 = all cores, as the sort's --threads sets it); for a `.bin`
 * the page cache or disk (test/gpu/read-floor.sh gives the raw floor).
 */
import { parseArgs } from 'node:util';
import { loadCpuBinding, openRecording } from '../../native/lib/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    batch: { type: 'string', default: '65600' },
    halo: { type: 'string', default: '1024' },
    passes: { type: 'string', default: '1' },
    threads: { type: 'string', default: '0' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: npm run bench:cbin-read -- FILE [--batch 65600] [--halo 1024] [--passes 1] [--threads 0]');
  process.exit(2);
}
loadCpuBinding().setThreads(Number(values.threads));
const batch = Number(values.batch);
const halo = Number(values.halo);
const rec = await openRecording(positionals[0]!);
const { nSamples, sampleRateHz } = rec.info;
const C = rec.info.neuralColumns.length;
console.log(
  `${positionals[0]}: ${C} channels, ${(nSamples / sampleRateHz).toFixed(1)} s, ` +
    `task pool of ${loadCpuBinding().taskPoolThreads()} threads (decodes .cbin chunks)`,
);
const out = new Int16Array((batch + 2 * halo) * C);
await rec.close();
for (let pass = 0; pass < Number(values.passes); pass++) {
  // Opened afresh each pass: a reused reader would serve a short recording from its chunk cache.
  const reader = await openRecording(positionals[0]!);
  const start = performance.now();
  let samples = 0;
  for (let s = 0; s < nSamples; s += batch) {
    const a = Math.max(0, s - halo);
    const b = Math.min(nSamples, s + batch + halo);
    await reader.read(a, b, out.subarray(0, (b - a) * C));
    samples += b - a;
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `pass ${pass + 1}: ${((samples * C * 2) / 1e6 / seconds).toFixed(0)} MB/s decoded, ` +
      `${(nSamples / sampleRateHz / seconds).toFixed(1)}× real time (${seconds.toFixed(2)} s)`,
  );
  await reader.close();
}
