// SPDX-License-Identifier: GPL-3.0-or-later
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryFields, peakRssKb } from '../../../proto/log.js';

test('memoryFields: the peak since the previous call covers a transient allocation, and is then reset', (t) => {
  process.env['SPIKESHARD_MEMORY_WINDOWS'] = '1';
  t.after(() => delete process.env['SPIKESHARD_MEMORY_WINDOWS']);
  const first = memoryFields();
  if (first.peakSinceMB === undefined) {
    t.skip('no VmHWM or /proc/self/clear_refs here (not Linux)');
    return;
  }
  assert.ok(first.arrayBuffersMB >= 0 && first.heapMB > 0, JSON.stringify(first));
  // 200 MB touched page by page, then dropped: RSS rises by about that much and may fall back.
  let block: Uint8Array | null = new Uint8Array(200e6);
  block.fill(1);
  const during = memoryFields();
  assert.ok(during.arrayBuffersMB >= 200, `arrayBuffersMB ${during.arrayBuffersMB}: expected ≥ 200 while held`);
  assert.ok(
    during.peakSinceMB! >= first.rssMB + 150,
    `peakSinceMB ${during.peakSinceMB}: expected ≥ ${first.rssMB} + 150 after touching 200 MB`,
  );
  block = null;
  const after = memoryFields();
  // The window restarted at `during`: its peak is at least the RSS then, never the whole run's.
  assert.ok(after.peakSinceMB! >= after.rssMB, JSON.stringify(after));
  // The whole run's peak survives the resets.
  assert.ok(after.peakRssMB >= during.peakSinceMB! - 1, JSON.stringify({ during, after }));
  assert.ok(peakRssKb() >= (during.peakSinceMB! - 1) * 976, `peakRssKb ${peakRssKb()}`);
});

test("memoryFields: without SPIKESHARD_MEMORY_WINDOWS no window peak, and the peak is getrusage's", () => {
  delete process.env['SPIKESHARD_MEMORY_WINDOWS'];
  const fields = memoryFields();
  assert.equal(fields.peakSinceMB, undefined);
  assert.ok(fields.peakRssMB >= fields.rssMB - 1, JSON.stringify(fields));
});
