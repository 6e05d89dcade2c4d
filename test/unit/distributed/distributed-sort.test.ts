// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The determinism contract across processes (design.md §6): sorting through 1, 2 or 4 local
 * workers writes the same phy and ALF bytes as the in-process sort, and the workers the
 * coordinator started are gone afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { outputDigests } from '../../helpers/output-digests.js';
import { tmpDir } from '../../helpers/tmp.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('1, 2 and 4 local workers write the in-process sort’s bytes, and stop', { timeout: 180_000 }, () => {
  const { dir, cleanup } = tmpDir('spikeshard-dist-');
  try {
    const sim = path.join(dir, 'sim');
    const s = runCli(['simulate', sim, '--channels', '32', '--seconds', '10', '--units', '8', '--seed', '11']);
    assert.equal(s.status, 0, s.stderr);
    const ref = runCli(['sort', sim, '--out', path.join(dir, 'local'), '--threads', '1']);
    assert.equal(ref.status, 0, ref.stderr);
    const want = outputDigests(path.join(dir, 'local'));
    assert.ok(Object.keys(want).filter((f) => f.includes('phy')).length >= 20, Object.keys(want).join(', '));
    assert.ok(Object.keys(want).filter((f) => f.startsWith('alf')).length >= 20, Object.keys(want).join(', '));
    for (const n of [1, 2, 4]) {
      const out = path.join(dir, `w${n}`);
      const r = runCli(['sort', sim, '--out', out, '--workers', String(n), '--threads', String(n)]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(outputDigests(out), want, `${n} worker(s)`);
      const started = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; pids?: number[] })
        .find((l) => l.msg?.startsWith('started '));
      assert.equal(started?.pids?.length, n, 'the coordinator logs the pids of the workers it started');
      assert.deepEqual(
        started.pids.filter((pid) => alive(pid)),
        [],
        'no local worker outlives the sort',
      );
      assert.equal((statSync(path.join(out, '.secret')).mode & 0o777).toString(8), '600');
    }
  } finally {
    cleanup();
  }
});

test('a run with no live worker stops with exit code 4 and says why', { timeout: 60_000 }, () => {
  const { dir, cleanup } = tmpDir('spikeshard-dist-none-');
  try {
    const sim = path.join(dir, 'sim');
    assert.equal(runCli(['simulate', sim, '--channels', '8', '--seconds', '3', '--units', '2']).status, 0);
    const r = runCli(
      ['sort', sim, '--out', path.join(dir, 'out'), '--worker-addresses', '127.0.0.1:1', '--worker-wait', '1'],
      {
        env: { SPIKESHARD_SECRET: 'x' },
      },
    );
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /no live worker for 1 s \(--worker-addresses 127\.0\.0\.1:1\)/);
    const noSecret = runCli(['sort', sim, '--out', path.join(dir, 'out2'), '--worker-addresses', '127.0.0.1:1'], {
      env: { SPIKESHARD_SECRET: '' },
    });
    assert.equal(noSecret.status, 2, noSecret.stderr);
    assert.match(noSecret.stderr, /no run secret/);
  } finally {
    cleanup();
  }
});
