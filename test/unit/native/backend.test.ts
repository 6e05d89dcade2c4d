// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseBackend, loadCudaBinding, packageRoot } from '../../../native/lib/index.js';
import { ParameterError, RunError } from '../../../proto/errors.js';

test('cpu is always honoured', () => {
  const choice = chooseBackend('cpu');
  assert.equal(choice.backend, 'cpu');
  assert.equal(choice.cuda, undefined);
});

test('auto follows whether the CUDA backend can be used, and says why', () => {
  const loaded = loadCudaBinding();
  const choice = chooseBackend('auto');
  if (loaded.ok) {
    assert.equal(choice.backend, 'cuda');
    assert.ok(choice.cuda);
    assert.match(choice.reason, /compute capability/);
  } else {
    assert.equal(choice.backend, 'cpu');
    assert.ok(choice.reason.includes(loaded.reason), choice.reason);
    // The reason is one of the loader's: no addon file, or the addon with no usable device.
    assert.match(loaded.reason, /not found|no usable CUDA device|failed to load/);
  }
});

test('cuda without a usable device is a RunError carrying the reason', () => {
  const loaded = loadCudaBinding();
  if (loaded.ok) {
    assert.equal(chooseBackend('cuda').backend, 'cuda');
  } else {
    assert.throws(
      () => chooseBackend('cuda'),
      (err: unknown) => err instanceof RunError && err.message.includes(loaded.reason),
    );
  }
});

test('an unknown backend name is a ParameterError', () => {
  assert.throws(() => chooseBackend('gpu' as 'cpu'), ParameterError);
});

test('choices are logged with their reason', () => {
  const lines: string[] = [];
  const logger = { info: (_fields: unknown, message: string) => lines.push(message) };
  chooseBackend('cpu', logger as unknown as Parameters<typeof chooseBackend>[1]);
  assert.deepEqual(lines, ['backend: cpu (cpu requested)']);
});

test('the build finds no CUDA toolkit when none is reachable, so the cuda target is skipped', () => {
  const script = path.join(packageRoot(), 'native', 'scripts', 'cuda-home.cjs');
  const run = (env: Record<string, string>): string =>
    execFileSync(process.execPath, [script], { env: { PATH: '', ...env }, encoding: 'utf8' });
  assert.equal(run({ SPIKESHARD_NO_CUDA: '1' }), '');
  assert.equal(run({ CUDA_HOME: '/nonexistent-cuda' }), '');
  // A toolkit named by CUDA_HOME is found (a fake one: bin/nvcc is all the script looks for).
  const root = mkdtempSync(path.join(os.tmpdir(), 'fake-cuda-'));
  try {
    mkdirSync(path.join(root, 'bin'));
    writeFileSync(path.join(root, 'bin', 'nvcc'), '');
    assert.equal(run({ CUDA_HOME: root }), root);
    assert.equal(run({ CUDA_HOME: root, SPIKESHARD_NO_CUDA: '1' }), '');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
