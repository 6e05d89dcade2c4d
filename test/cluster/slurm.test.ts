// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * slurm/sort.sh on a real (one-node) SLURM cluster: .ci/setup-slurm.sh makes one. Skipped with a
 * message where no SLURM controller answers. The jobs run the built CLI natively
 * (SPIKESHARD_BIN), as on a cluster without Apptainer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../native/lib/index.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  assertUsefulSorting,
  compareProbe,
  missingFeatures,
  outputDigests,
  sh,
  simulateSession,
  waitFor,
} from './cluster-helpers.js';

const repoRoot = packageRoot();
const sortScript = path.join(repoRoot, 'slurm', 'sort.sh');
const cliBin = (
  JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: { spikeshard: string } }
).bin.spikeshard;
const jobEnv = {
  SPIKESHARD_BIN: `${process.execPath} ${path.join(repoRoot, cliBin)}`,
  SPIKESHARD_LOG_LEVEL: 'info',
};

function slurmUnavailable(): string | undefined {
  const result = sh('sinfo', ['--noheader', '--format=%T'], { timeoutMs: 10_000 });
  if (result.status !== 0)
    return `no SLURM controller answers (sinfo: ${(result.stderr || 'not installed').trim()}); run .ci/setup-slurm.sh as root`;
  if (!/idle|mixed|allocated/.test(result.stdout)) return `no usable SLURM node (sinfo: ${result.stdout.trim()})`;
  return undefined;
}
const unavailable = slurmUnavailable();
if (unavailable) console.log(`# SLURM suite skipped: ${unavailable}`);

/** Options shared by every submission: small, and within the one CI node. */
function sbatchArgs(dir: string, tasks: number): string[] {
  return [
    '--parsable',
    `--chdir=${dir}`,
    `--output=${path.join(dir, '%x-%j.out')}`,
    '--time=00:30:00',
    '--nodes=1',
    `--ntasks-per-node=${tasks}`,
    // One GPU per worker task, as the script expects (the CI node declares device-less GPUs).
    `--gres=gpu:${Math.max(1, tasks - 1)}`,
    '--cpus-per-task=1',
    '--mem=3G',
  ];
}

interface JobInfo {
  state: string;
  exitCode: string;
  restarts: number;
}
function jobInfo(jobId: string): JobInfo | undefined {
  const result = sh('scontrol', ['show', 'job', '--oneliner', jobId]);
  if (result.status !== 0) return undefined;
  const field = (name: string): string => new RegExp(`\\b${name}=(\\S+)`).exec(result.stdout)?.[1] ?? '';
  return { state: field('JobState'), exitCode: field('ExitCode'), restarts: Number(field('Restarts') || '0') };
}

/** Submits with --wait: returns the job's exit status and its log. */
function submitAndWait(dir: string, tasks: number, args: string[]): { status: number | null; log: string } {
  const result = sh('sbatch', ['--wait', ...sbatchArgs(dir, tasks), sortScript, ...args], {
    env: jobEnv,
    timeoutMs: 25 * 60_000,
  });
  const jobId = result.stdout.trim().split(/\s+/)[0] ?? '';
  const logFile = path.join(dir, `spikeshard-${jobId}.out`);
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : `(no log ${logFile}) ${result.stderr}`;
  return { status: result.status, log };
}

describe('slurm/sort.sh', { skip: unavailable ?? false, timeout: 40 * 60_000 }, () => {
  let dir = '';
  let cleanup = (): void => {};
  let session = '';
  let reference: Record<string, string> | undefined;

  before(() => {
    ({ dir, cleanup } = tmpDir('spikeshard-slurm-'));
    session = path.join(dir, 'session');
    simulateSession(session, { probes: 2, seconds: 20, seed: 5 });
  });
  after(() => {
    if (process.env['SPIKESHARD_KEEP_TEST_DIRS'] === '1') console.log(`# kept ${dir}`);
    else cleanup();
  });

  test('a missing session folder or one without probes fails before srun, with the reason in the job log', () => {
    const missing = submitAndWait(dir, 1, [path.join(dir, 'no-such-session'), path.join(dir, 'out-missing')]);
    assert.equal(missing.status, 3, missing.log);
    assert.match(missing.log, /no-such-session: no such file or folder/);
    assert.doesNotMatch(missing.log, /coordinator/, 'no task may start');

    const empty = path.join(dir, 'empty-session');
    sh('mkdir', ['-p', empty]);
    const noProbes = submitAndWait(dir, 1, [empty, path.join(dir, 'out-empty')]);
    assert.equal(noProbes.status, 3, noProbes.log);
    assert.match(noProbes.log, /no probe recording found/);
    assert.ok(!existsSync(path.join(dir, 'out-empty')), 'no output folder is made for bad input');
  });

  test('one task sorts both probes in-process into phy folders and ALF collections', () => {
    const out = path.join(dir, 'out-1task');
    const job = submitAndWait(dir, 1, [session, out]);
    assert.equal(job.status, 0, job.log);
    for (const [probe, alf] of [
      ['imec0', 'probe00'],
      ['imec1', 'probe01'],
    ] as const) {
      assertUsefulSorting(compareProbe(session, probe, path.join(out, probe, 'phy')), `${probe} phy`);
      assertUsefulSorting(compareProbe(session, probe, path.join(out, 'alf', alf)), `${probe} ALF`);
    }
    reference = outputDigests(out);
    assert.ok(Object.keys(reference).length > 40, `outputs: ${Object.keys(reference).join(', ')}`);
  });

  test('task roles: task 0 coordinates, each worker task gets its own GPU, workers stop when the coordinator ends', () => {
    // A stand-in for the spikeshard command that records how each task called it: this checks
    // the script's wiring whatever the state of the real worker.
    const stubDir = path.join(dir, 'stub');
    mkdirSync(stubDir);
    const stub = path.join(stubDir, 'spikeshard-stub.sh');
    writeFileSync(
      stub,
      [
        '#!/bin/bash',
        `calls=${stubDir}`,
        'arg_after() { local want=$1; shift; while [ $# -gt 1 ]; do [ "$1" = "$want" ] && { echo "$2"; return; }; shift; done; }',
        'case "$1" in',
        '  info) exit 0 ;;',
        '  sort)',
        '    echo "$*" > "$calls/coordinator.args"',
        '    dir=$(arg_after --worker-dir "$@")',
        '    stat -c %a "$(arg_after --secret-file "$@")" > "$calls/secret.mode"',
        '    for _ in $(seq 1 60); do [ "$(ls "$dir"/worker-*.json 2>/dev/null | wc -l)" -ge 2 ] && exit 0; sleep 0.5; done',
        '    exit 4 ;;',
        '  worker)',
        '    echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES $*" > "$calls/worker-$SLURM_PROCID.args"',
        '    reg="$(arg_after --register "$@")/worker-$(hostname)-$SLURM_PROCID.json"',
        '    echo "{}" > "$reg"',
        '    trap \'rm -f "$reg"; exit 0\' TERM',
        '    while :; do sleep 0.2; done ;;',
        'esac',
        'exit 2',
        '',
      ].join('\n'),
    );
    const out = path.join(dir, 'out-stub');
    const result = sh('sbatch', ['--wait', ...sbatchArgs(dir, 3), sortScript, session, out], {
      env: { ...jobEnv, SPIKESHARD_BIN: `bash ${stub}` },
      timeoutMs: 5 * 60_000,
    });
    const jobId = result.stdout.trim();
    const log = readFileSync(path.join(dir, `spikeshard-${jobId}.out`), 'utf8');
    assert.equal(result.status, 0, log);
    const coordinatorArgs = readFileSync(path.join(stubDir, 'coordinator.args'), 'utf8').trim();
    assert.equal(
      coordinatorArgs,
      `sort ${session} --out ${out} --worker-dir ${out}/workers --secret-file ${out}/.secret`,
    );
    assert.equal(readFileSync(path.join(stubDir, 'secret.mode'), 'utf8').trim(), '600');
    const workers = [1, 2].map((rank) => readFileSync(path.join(stubDir, `worker-${rank}.args`), 'utf8').trim());
    assert.deepEqual(
      workers.map((w) => w.split(' ')[0]),
      ['CUDA_VISIBLE_DEVICES=0', 'CUDA_VISIBLE_DEVICES=1'],
    );
    for (const w of workers)
      assert.match(
        w,
        new RegExp(
          `worker --listen 0\\.0\\.0\\.0:0 --register ${out}/workers --data-root ${session} --secret-file ${out}/\\.secret --backend auto --threads 1$`,
        ),
      );
    assert.deepEqual(
      readdirSync(path.join(out, 'workers')).filter((f) => f.startsWith('worker-')),
      [],
    );
  });

  test(
    'a coordinator task and two worker tasks give the same outputs as one task',
    { skip: missingFeatures({ worker: true }) ?? false },
    () => {
      const out = path.join(dir, 'out-3tasks');
      const job = submitAndWait(dir, 3, [session, out]);
      assert.equal(job.status, 0, job.log);
      assert.match(job.log, /worker on/);
      assert.ok(reference, 'needs the one-task run');
      assert.deepEqual(outputDigests(out), reference);
      assert.deepEqual(
        readdirSync(path.join(out, 'workers')).filter((f) => f.startsWith('worker-')),
        [],
        'workers deregister on a clean stop',
      );
    },
  );

  test(
    'scontrol requeue in the middle of a run resumes to identical outputs',
    { skip: missingFeatures({ resume: true }) ?? false },
    async () => {
      const tasks = missingFeatures({ worker: true }) === undefined ? 3 : 1;
      const out = path.join(dir, 'out-requeue');
      const submitted = sh('sbatch', [...sbatchArgs(dir, tasks), sortScript, session, out], { env: jobEnv });
      assert.equal(submitted.status, 0, submitted.stderr);
      const jobId = submitted.stdout.trim();
      try {
        // Mid-run: the coordinator has started writing its run folder but not finished.
        const logFile = path.join(dir, `spikeshard-${jobId}.out`);
        await waitFor(
          'the coordinator to start on the first probe',
          () =>
            existsSync(path.join(out, 'run.json')) ||
            (existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"probe":"imec0"'))
              ? true
              : undefined,
          10 * 60_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        const before = jobInfo(jobId);
        assert.equal(before?.state, 'RUNNING', `job ${jobId} must still run when requeued: ${JSON.stringify(before)}`);
        const requeue = sh('scontrol', ['requeue', jobId]);
        assert.equal(requeue.status, 0, requeue.stderr);
        // SLURM holds a requeued job for a while (BeginTime); release it at once.
        await waitFor(
          'the job to be pending again',
          () => (jobInfo(jobId)?.state === 'PENDING' ? true : undefined),
          120_000,
        );
        sh('scontrol', ['update', `JobId=${jobId}`, 'StartTime=now']);
        const done = await waitFor(
          'the requeued job to finish',
          () => {
            const info = jobInfo(jobId);
            return info && !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED'].includes(info.state)
              ? info
              : undefined;
          },
          20 * 60_000,
          2_000,
        );
        const log = readFileSync(logFile, 'utf8');
        assert.equal(done.state, 'COMPLETED', log);
        assert.equal(done.restarts, 1, log);
        assert.match(log, /attempt 2/);
        assert.ok(reference, 'needs the one-task run');
        assert.deepEqual(outputDigests(out), reference);
      } finally {
        sh('scancel', [jobId]);
      }
    },
  );
});
