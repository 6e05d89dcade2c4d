// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  DEFAULT_MMAP_THRESHOLD_BYTES,
  describeHeapPolicy,
  fixMmapThreshold,
  heapPolicyFromEnv,
  loadCpuBinding,
  releaseFreedMemory,
} from '../../../native/lib/index.js';
import { ParameterError } from '../../../proto/errors.js';

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

test("heapPolicyFromEnv: the engine default, an override, glibc's own variable, and bad values", () => {
  assert.deepEqual(heapPolicyFromEnv({}), {
    mmapThresholdBytes: DEFAULT_MMAP_THRESHOLD_BYTES,
    reason: 'the engine default',
  });
  assert.equal(heapPolicyFromEnv({ SPIKESHARD_MMAP_THRESHOLD: '1048576' }).mmapThresholdBytes, 1048576);
  assert.equal(heapPolicyFromEnv({ SPIKESHARD_MMAP_THRESHOLD: '0' }).mmapThresholdBytes, null);
  // glibc read MALLOC_MMAP_THRESHOLD_ at start: the engine leaves that choice alone.
  const own = heapPolicyFromEnv({ MALLOC_MMAP_THRESHOLD_: '131072', SPIKESHARD_MMAP_THRESHOLD: '1048576' });
  assert.equal(own.mmapThresholdBytes, null);
  assert.match(describeHeapPolicy(own), /glibc's own \(MALLOC_MMAP_THRESHOLD_=131072 set in the environment\)/);
  for (const bad of ['-1', '1.5', '16M', String(64 * 1024 * 1024)]) {
    assert.throws(
      () => heapPolicyFromEnv({ SPIKESHARD_MMAP_THRESHOLD: bad }),
      (err: unknown) => err instanceof ParameterError && err.message.includes(`got "${bad}"`),
    );
  }
});

test('fixMmapThreshold applies the policy once; the binding refuses values glibc would', () => {
  const first = fixMmapThreshold({});
  assert.deepEqual(fixMmapThreshold({ SPIKESHARD_MMAP_THRESHOLD: '0' }), first);
  assert.match(describeHeapPolicy(first), /^(fixed at 16777216 B \(the engine default\)|glibc's own \(not glibc)/);
  const binding = loadCpuBinding();
  assert.throws(() => binding.setMmapThreshold(64 * 1024 * 1024), RangeError);
  assert.throws(() => binding.setMmapThreshold(1.5), RangeError);
  assert.throws(() => binding.setMmapThreshold('1' as unknown as number), TypeError);
});
