// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCpuBinding } from '../../../native/lib/index.js';

test('the CPU backend loads and describes itself', () => {
  const d = loadCpuBinding().describe();
  assert.equal(d.backend, 'cpu');
  assert.ok(d.coreVersion >= 1);
  assert.ok(d.defaultThreads >= 1);
});

test('setThreads rejects a non-number with a TypeError', () => {
  const binding = loadCpuBinding() as unknown as { setThreads: (x: unknown) => void };
  assert.throws(() => binding.setThreads('four'), TypeError);
});
