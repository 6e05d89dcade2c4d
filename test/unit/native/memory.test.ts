// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { releaseFreedMemory } from '../../../native/lib/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** RssAnon in MiB; null where /proc/self/status has none. */
function rssAnonMiB(): number | null {
  try {
    const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

test('releaseFreedMemory gives freed heap blocks back to the system (glibc)', async (t) => {
  assert.equal(typeof releaseFreedMemory(), 'boolean');
  if (process.platform !== 'linux' || rssAnonMiB() === null || !process.report) {
    t.skip('needs Linux /proc');
    return;
  }
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
    ?.glibcVersionRuntime;
  if (glibc === undefined) {
    t.skip('not glibc');
    return;
  }
  // 256 MiB in 64 KiB blocks: below glibc's mmap threshold, so they come from the heap and free()
  // keeps their pages. Every 32nd block stays alive, so the heap cannot shrink from its top alone.
  let blocks: Uint8Array[] | null = Array.from({ length: 4096 }, () => new Uint8Array(65536).fill(1));
  const kept = blocks.filter((_, i) => i % 32 === 31);
  blocks = null;
  let released = 0;
  // ArrayBuffers are freed after a collection, possibly on a background thread: a few tries.
  for (let attempt = 0; attempt < 20 && released < 100; attempt++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = rssAnonMiB()!;
    releaseFreedMemory();
    released = Math.max(released, before - rssAnonMiB()!);
  }
  assert.ok(released >= 100, `expected ≥ 100 MiB handed back, got ${released.toFixed(0)} MiB`);
  assert.equal(kept.length, 128);
});
