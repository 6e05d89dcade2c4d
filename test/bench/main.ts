// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench -- [options]`: measured speed, memory and accuracy, printed (never asserted).
 * Simulates a recording (timed: the simulator's own speed), sorts it through the CLI (per-stage
 * seconds from run.json, × real time, peak RSS of the sort process) and scores it.
 *
 *   npm run bench -- --channels 384 --seconds 600 --units 100 --drift 15 [--probe np1] [--seed 1]
 *                    [--threads 0] [--work DIR] [--keep] [--json FILE] [--no-drift-correction]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../native/lib/index.js';

const { values } = parseArgs({
  options: {
    probe: { type: 'string', default: 'np1' },
    channels: { type: 'string', default: '384' },
    seconds: { type: 'string', default: '60' },
    units: { type: 'string', default: '' },
    drift: { type: 'string', default: '15' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '0' },
    work: { type: 'string', default: '' },
    json: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    'no-drift-correction': { type: 'boolean', default: false },
    backend: { type: 'string', default: 'cpu' },
  },
});

if (values.backend !== 'cpu') {
  console.error(`--backend ${values.backend}: only the cpu backend exists so far (the CUDA backend is issue 5)`);
  process.exit(2);
}

const bin = path.join(packageRoot(), 'dist', 'coordinator', 'cli', 'bin.js');
const work = values.work || mkdtempSync(path.join(os.tmpdir(), 'spikeshard-bench-'));
const sim = path.join(work, 'sim');
const out = path.join(work, 'out');

function run(args: string[]): { seconds: number; maxRssKb: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SPIKESHARD_REPORT_RSS: '1', SPIKESHARD_LOG_LEVEL: 'warn' },
    maxBuffer: 1 << 28,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stderr);
    throw new Error(`spikeshard ${args[0]} exited with ${r.status}`);
  }
  const rss = /\{"maxRssKb":(\d+)\}/.exec(r.stderr);
  return { seconds, maxRssKb: rss ? Number(rss[1]) : NaN, stdout: r.stdout };
}

const durationS = Number(values.seconds);
const simArgs = ['simulate', sim, '--probe', values.probe, '--channels', values.channels, '--seconds', values.seconds];
simArgs.push('--drift', values.drift, '--seed', values.seed, '--force');
if (values.units) simArgs.push('--units', values.units);
const simulate = run(simArgs);
const sortArgs = ['sort', sim, '--out', out, '--fresh', '--threads', values.threads];
if (values['no-drift-correction']) sortArgs.push('--no-drift-correction');
const sort = run(sortArgs);
const runJson = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as {
  results: Array<{ probe: string; clusters: number; good: number; spikes: number; timings: Record<string, number> }>;
};
const compare = run(['compare', sim, path.join(out, runJson.results[0]!.probe, 'phy'), '--json']);
const report = JSON.parse(compare.stdout) as {
  summary: { all: Bin; bySnr: Bin[] };
  goodOnly: { summary: { all: Bin } } | null;
  sorting: Record<string, unknown>;
  testedUnits: Array<{ label: string | null; falsePositive: boolean }>;
};
interface Bin {
  label: string;
  nGtUnits: number;
  nWellDetected: number;
  meanAccuracy: number;
}

const cpu = os.cpus();
const machine = `${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
const timings = runJson.results[0]!.timings;
const total = Object.values(timings).reduce((a, b) => a + b, 0);
const result = {
  machine,
  node: process.version,
  recording: {
    probe: values.probe,
    channels: Number(values.channels),
    seconds: durationS,
    drift: Number(values.drift),
    seed: Number(values.seed),
  },
  simulate: { seconds: simulate.seconds, realTime: durationS / simulate.seconds, maxRssMb: simulate.maxRssKb / 1024 },
  sort: {
    wallSeconds: sort.seconds,
    realTime: durationS / sort.seconds,
    maxRssMb: sort.maxRssKb / 1024,
    stages: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { seconds: v, share: v / total }])),
  },
  result: runJson.results[0],
  accuracy: {
    all: report.summary.all,
    bySnr: report.summary.bySnr,
    falsePositiveGood: report.testedUnits.filter((u) => u.label === 'good' && u.falsePositive).length,
  },
};

const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(0)}%` : '–');
console.log(`machine     ${machine}, node ${process.version}`);
console.log(
  `recording   ${values.probe}, ${values.channels} channels, ${durationS} s, drift ${values.drift} µm, seed ${values.seed}`,
);
console.log(
  `simulate    ${simulate.seconds.toFixed(1)} s (${result.simulate.realTime.toFixed(2)}× real time), peak RSS ${result.simulate.maxRssMb.toFixed(0)} MB`,
);
console.log(
  `sort        ${sort.seconds.toFixed(1)} s (${result.sort.realTime.toFixed(2)}× real time), peak RSS ${result.sort.maxRssMb.toFixed(0)} MB`,
);
for (const [stage, t] of Object.entries(result.sort.stages)) {
  console.log(
    `  ${stage.padEnd(12)} ${t.seconds.toFixed(1).padStart(8)} s  ${(100 * t.share).toFixed(0).padStart(3)}%`,
  );
}
console.log(
  `found       ${runJson.results[0]!.clusters} clusters (${runJson.results[0]!.good} good), ${runJson.results[0]!.spikes} spikes`,
);
for (const b of [report.summary.all, ...report.summary.bySnr]) {
  console.log(
    `  ${b.label.padEnd(14)} ${String(b.nWellDetected).padStart(4)}/${String(b.nGtUnits).padEnd(4)} well detected (${pct(b.nWellDetected, b.nGtUnits)}), mean accuracy ${b.meanAccuracy.toFixed(3)}`,
  );
}
console.log(`  false-positive units labelled good: ${result.accuracy.falsePositiveGood}`);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
if (!values.keep && !values.work) rmSync(work, { recursive: true, force: true });
