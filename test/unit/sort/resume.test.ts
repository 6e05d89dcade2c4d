// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The run folder (design.md §5) through the built CLI: a coordinator killed mid-run resumes
 * without redoing finished work and writes the same bytes as an uninterrupted run; other
 * parameters are refused by name; --fresh starts over; a finished run is left alone; two probes
 * sorted in one job give what each gives alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../native/lib/index.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

/** SHA-1 of every .npy/.tsv/.csv of a folder, bar the cluster UUIDs (derived from each run's random id). */
function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (/\.(npy|tsv|csv)$/.test(f) && !f.includes('uuids'))
      out[f] = createHash('sha1')
        .update(readFileSync(path.join(dir, f)))
        .digest('hex');
  }
  return out;
}

function outputs(out: string, probe: string, collection: string): Record<string, string> {
  const phy = digests(path.join(out, probe, 'phy'));
  const alf = digests(path.join(out, 'alf', collection));
  assert.ok(Object.keys(phy).length >= 15, `phy files: ${Object.keys(phy).join(', ')}`);
  assert.ok(Object.keys(alf).length >= 10, `ALF files: ${Object.keys(alf).join(', ')}`);
  return { ...Object.fromEntries(Object.entries(phy).map(([k, v]) => [`phy/${k}`, v])), ...alf };
}

// --checkpoint-every 0: learning's state after every round, so the kill below finds one to resume from.
const SORT = ['--threads', '1', '--batch-samples', '32768', '--learning-round-batches', '3', '--checkpoint-every', '0'];

function simulate(dir: string, probes: number): string {
  const sim = path.join(dir, 'sim');
  const args = ['simulate', sim, '--channels', '32', '--seconds', '12', '--units', '8', '--seed', '11'];
  const s = runCli([...args, '--probes', String(probes)]);
  assert.equal(s.status, 0, s.stderr);
  return sim;
}

function records(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.rec')) : [];
}

/** Starts `sort` and SIGKILLs it as soon as `when` holds. */
function sortAndKill(sim: string, out: string, when: () => boolean): Promise<{ killed: boolean; stderr: string }> {
  const bin = path.join(packageRoot(), 'dist', 'coordinator', 'cli', 'bin.js');
  const child = spawn(process.execPath, [bin, 'sort', sim, '--out', out, ...SORT], {
    env: { ...process.env, SPIKESHARD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    let killed = false;
    const poll = setInterval(() => {
      if (!killed && when()) {
        killed = child.kill('SIGKILL');
        clearInterval(poll);
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', () => {
      clearInterval(poll);
      resolve({ killed, stderr });
    });
  });
}

test(
  'a sort killed during learning or extraction resumes, redoes nothing finished and writes identical outputs',
  { timeout: 180_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-resume-');
    try {
      const sim = simulate(dir, 1);
      const whole = path.join(dir, 'whole');
      const a = runCli(['sort', sim, '--out', whole, ...SORT]);
      assert.equal(a.status, 0, a.stderr);
      const reference = outputs(whole, 'imec0', 'probe00');

      // Killed once learning round 1 is saved (learning keeps no per-batch records: a round is
      // redone whole): the finished rounds are loaded, not sent again.
      const learning = path.join(dir, 'learning');
      const learningState = path.join(learning, '.run', 'imec0', 'learning', 'state.rec');
      const k = await sortAndKill(sim, learning, () => existsSync(learningState));
      assert.ok(k.killed, `the sort ended before it could be killed:\n${k.stderr.slice(-2000)}`);
      assert.ok(
        !existsSync(path.join(learning, '.run', 'imec0', 'learning', 'round-00001')),
        'no learning batch records',
      );
      const l = runCli(['sort', sim, '--out', learning, ...SORT]);
      assert.equal(l.status, 0, l.stderr);
      const loaded = /"msg":"learning: (\d) of 4 rounds loaded from the run folder"/.exec(l.stderr);
      assert.ok(loaded && Number(loaded[1]) >= 1, l.stderr.slice(-3000));
      for (let round = 1; round <= Number(loaded[1]); round++)
        assert.doesNotMatch(l.stderr, new RegExp(`"msg":"learning round ${round}/4: done`), `round ${round} redone`);
      if (Number(loaded[1]) < 4)
        assert.match(l.stderr, new RegExp(`"msg":"learning round ${Number(loaded[1]) + 1}/4: done, 3 batches`));
      assert.deepEqual(outputs(learning, 'imec0', 'probe00'), reference);

      const out = path.join(dir, 'killed');
      const first = await sortAndKill(
        sim,
        out,
        () => records(path.join(out, '.run', 'imec0', 'extraction')).length >= 3,
      );
      assert.ok(first.killed, `the sort ended before it could be killed:\n${first.stderr.slice(-2000)}`);
      assert.ok(!existsSync(path.join(out, 'imec0', 'phy')), 'no phy folder after a kill during extraction');
      const extraction = path.join(out, '.run', 'imec0', 'extraction');
      const kept = records(extraction);

      const nBatches = 11;
      assert.ok(kept.length >= 3 && kept.length < nBatches, `extraction records at the kill: ${kept.length}`);
      const mtimes = new Map(kept.map((f) => [f, statSync(path.join(extraction, f)).mtimeMs]));
      // What a kill during a write leaves: a torn temporary file, which must never be read.
      writeFileSync(path.join(extraction, `.batch-00010.rec.99999.0.tmp`), 'SSREC\0\0\x01 torn');

      const b = runCli(['sort', sim, '--out', out, ...SORT]);
      assert.equal(b.status, 0, b.stderr);
      assert.match(b.stderr, /resuming the run/);
      for (const round of ['statistics', 'prototypes', 'drift', 'learning'])
        assert.match(b.stderr, new RegExp(`"msg":"${round}: loaded from the run folder"`), round);
      const done = /"msg":"extraction: done, (\d+) batches \((\d+) from the run folder, (\d+) computed\)/.exec(
        b.stderr,
      );
      assert.ok(done, b.stderr.slice(-3000));
      assert.deepEqual(
        [Number(done[1]), Number(done[2]), Number(done[3])],
        [nBatches, kept.length, nBatches - kept.length],
      );
      for (const [f, t] of mtimes) assert.equal(statSync(path.join(extraction, f)).mtimeMs, t, `${f} was rewritten`);
      assert.ok(!readdirSync(extraction).some((f) => f.endsWith('.tmp')), 'the torn temporary file is swept away');
      assert.deepEqual(outputs(out, 'imec0', 'probe00'), reference);

      // Sorted again with nothing changed: complete, nothing rewritten.
      const phyFile = path.join(out, 'imec0', 'phy', 'spike_times.npy');
      const before = statSync(phyFile).mtimeMs;
      const runJson = statSync(path.join(out, 'run.json')).mtimeMs;
      const c = runCli(['sort', sim, '--out', out, ...SORT]);
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stderr, /is complete; nothing to do/);
      assert.equal(statSync(phyFile).mtimeMs, before);
      assert.equal(statSync(path.join(out, 'run.json')).mtimeMs, runJson);
    } finally {
      cleanup();
    }
  },
);

test(
  'other parameters are refused by name; --fresh starts over; a damaged checkpoint is redone',
  { timeout: 180_000 },
  () => {
    const { dir, cleanup } = tmpDir('spikeshard-fresh-');
    try {
      const sim = simulate(dir, 1);
      const out = path.join(dir, 'out');
      const a = runCli(['sort', sim, '--out', out, ...SORT]);
      assert.equal(a.status, 0, a.stderr);
      const reference = outputs(out, 'imec0', 'probe00');
      const runId = (JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { runId: string }).runId;

      const changed = runCli(['sort', sim, '--out', out, ...SORT, '--extract-threshold', '4']);
      assert.equal(changed.status, 2, changed.stderr);
      assert.match(changed.stderr, /parameter extractThreshold: 3 before, 4 now/);
      assert.match(changed.stderr, /--fresh/);

      const again = runCli(['sort', sim, '--out', out, '--probe', 'imec0', ...SORT, '--fresh']);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /removed the earlier run/);
      assert.notEqual((JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { runId: string }).runId, runId);
      assert.deepEqual(outputs(out, 'imec0', 'probe00'), reference);

      // Outputs removed and one checkpoint damaged: the outputs are written again from the
      // checkpoints, the damaged batch recomputed, and the bytes are the same.
      const damaged = path.join(out, '.run', 'imec0', 'extraction', 'batch-00004.rec');
      const bytes = readFileSync(damaged);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
      writeFileSync(damaged, bytes);
      rmSync(path.join(out, 'imec0', 'phy'), { recursive: true });
      const redo = runCli(['sort', sim, '--out', out, ...SORT]);
      assert.equal(redo.status, 0, redo.stderr);
      assert.match(redo.stderr, /ignoring an unreadable checkpoint/);
      assert.match(redo.stderr, /extraction: done, 11 batches \(10 from the run folder, 1 computed\)/);
      assert.deepEqual(outputs(out, 'imec0', 'probe00'), reference);

      const deprecated = runCli(['sort', sim, '--out', out, ...SORT, '--extract-threshold', '4', '--overwrite']);
      assert.equal(deprecated.status, 0, deprecated.stderr);
      assert.match(deprecated.stderr, /--overwrite is deprecated/);
      const params = (
        JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { params: { extractThreshold: number } }
      ).params;
      assert.equal(params.extractThreshold, 4);
    } finally {
      cleanup();
    }
  },
);

test('two probes sorted in one job give the outputs of each sorted alone', { timeout: 180_000 }, () => {
  const { dir, cleanup } = tmpDir('spikeshard-probes-');
  try {
    const sim = simulate(dir, 2);
    const both = path.join(dir, 'both');
    const r = runCli(['sort', sim, '--out', both, ...SORT]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imec0: .*\nimec1: /);
    for (const [probe, collection] of [
      ['imec0', 'probe00'],
      ['imec1', 'probe01'],
    ] as const) {
      const alone = path.join(dir, probe);
      const s = runCli(['sort', sim, '--out', alone, '--probe', probe, ...SORT]);
      assert.equal(s.status, 0, s.stderr);
      assert.deepEqual(outputs(both, probe, collection), outputs(alone, probe, collection), probe);
    }
    assert.notDeepEqual(outputs(both, 'imec0', 'probe00'), outputs(both, 'imec1', 'probe01'));
  } finally {
    cleanup();
  }
});
