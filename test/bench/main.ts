// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench -- [options]`: measured speed, memory and accuracy, printed (never asserted).
 * Simulates a recording (timed: the simulator's own speed), sorts it through the CLI (per-stage
 * seconds from run.json, × real time, peak RSS of the sort process) and scores it.
 *
 *   npm run bench -- --channels 384 --seconds 600 --units 100 --drift 15 [--probe np1] [--seed 1]
 *                    [--threads 0] [--work DIR] [--keep] [--json FILE] [--no-drift-correction]
 *                    [--workers 1,2,4] [--backend cpu|cuda|auto] [--log FILE]
 *
 * --log keeps the in-process sort's debug log (learning rounds, engine phases, post-processing steps) in FILE.
 *
 * --backend goes to every sort (and, with --workers, to the local workers); the backend that ran
 * and, with CUDA, the device memory the backend held (its peak: buffers only grow) come from run.json.
 *
 * With --workers, the recording is also sorted through that many local gRPC workers (each count
 * in turn, `--threads` split between them): wall time, × real time, per-batch requests per second
 * of round time, time in rounds vs. global steps, and bytes moved over gRPC per request (the
 * executor's own counters), and whether the outputs are the in-process sort's bytes.
 *
 * The floor: after the sort, the simulated .bin is read once sequentially (16 MiB reads), after
 * dropping the page cache where this process may (root); the sort's wall time is compared with it
 * and the slowest stage is named with the recording bytes it got through per second.
 *
 * Post-processing and export alone, on a synthetic engine output of any size:
 * `npm run bench:postprocess` (postprocess-bench.ts).
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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
    workers: { type: 'string', default: '' },
    log: { type: 'string', default: '' },
  },
});

if (!['cpu', 'cuda', 'auto'].includes(values.backend)) {
  console.error(`--backend: expected cpu, cuda or auto, got "${values.backend}"`);
  process.exit(2);
}

const bin = path.join(packageRoot(), 'dist', 'cli', 'bin.js');
const work = values.work || mkdtempSync(path.join(os.tmpdir(), 'spikeshard-bench-'));
const sim = path.join(work, 'sim');
const out = path.join(work, 'out');

function run(args: string[], logLevel = 'warn'): { seconds: number; maxRssKb: number; stdout: string; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SPIKESHARD_REPORT_RSS: '1', SPIKESHARD_LOG_LEVEL: logLevel },
    maxBuffer: 1 << 28,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stderr);
    throw new Error(`spikeshard ${args[0]} exited with ${r.status}`);
  }
  const rss = /\{"maxRssKb":(\d+)\}/.exec(r.stderr);
  return { seconds, maxRssKb: rss ? Number(rss[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
}

const durationS = Number(values.seconds);
const simArgs = ['simulate', sim, '--probe', values.probe, '--channels', values.channels, '--seconds', values.seconds];
simArgs.push('--drift', values.drift, '--seed', values.seed, '--force');
if (values.units) simArgs.push('--units', values.units);
const simulate = run(simArgs);
const sortArgs = ['sort', sim, '--out', out, '--fresh', '--threads', values.threads, '--backend', values.backend];
if (values['no-drift-correction']) sortArgs.push('--no-drift-correction');
const sort = run(sortArgs, values.log ? 'debug' : 'warn');
if (values.log) writeFileSync(values.log, sort.stderr);
const runJson = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as {
  results: Array<{
    probe: string;
    clusters: number;
    good: number;
    spikes: number;
    timings: Record<string, number>;
    backend?: {
      backends: string[];
      preprocessing?: string;
      matching?: string;
      reason?: string;
      gpuMemoryBytes?: number;
    };
  }>;
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

/** One sequential pass over `file`: seconds, and whether the page cache was dropped first. */
function readFloor(file: string): { bytes: number; seconds: number; cold: boolean } {
  let cold = false;
  try {
    spawnSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    cold = true;
  } catch {
    // Not root: the pass below reads (some of) the file from the page cache, and says so.
  }
  const buffer = Buffer.allocUnsafe(16 << 20);
  const fd = openSync(file, 'r');
  const t0 = performance.now();
  let bytes = 0;
  for (let got = readSync(fd, buffer); got > 0; got = readSync(fd, buffer)) bytes += got;
  const seconds = (performance.now() - t0) / 1000;
  closeSync(fd);
  return { bytes, seconds, cold };
}
const binFile = path.join(
  sim,
  readdirSync(sim).find((f) => f.endsWith('.ap.bin'))!,
);
const floor = readFloor(binFile);

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
  backend: runJson.results[0]!.backend ?? null,
  simulate: { seconds: simulate.seconds, realTime: durationS / simulate.seconds, maxRssMb: simulate.maxRssKb / 1024 },
  sort: {
    wallSeconds: sort.seconds,
    realTime: durationS / sort.seconds,
    maxRssMb: sort.maxRssKb / 1024,
    stages: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { seconds: v, share: v / total }])),
  },
  result: runJson.results[0],
  readFloor: {
    file: binFile,
    bytes: floor.bytes,
    seconds: floor.seconds,
    megabytesPerSecond: floor.bytes / floor.seconds / 1e6,
    pageCacheDropped: floor.cold,
    sortOverFloor: sort.seconds / floor.seconds,
  },
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
const ran = result.backend;
console.log(
  `backend     ${ran ? `${ran.backends.join(',')} (preprocessing ${ran.preprocessing ?? '?'}, matching ${ran.matching ?? '?'}; ${ran.reason ?? ''})` : 'not recorded'}` +
    (ran?.gpuMemoryBytes !== undefined ? `, peak GPU memory ${(ran.gpuMemoryBytes / 2 ** 20).toFixed(0)} MiB` : ''),
);
console.log(
  `sort        ${sort.seconds.toFixed(1)} s (${result.sort.realTime.toFixed(2)}× real time), peak RSS ${result.sort.maxRssMb.toFixed(0)} MB`,
);
for (const [stage, t] of Object.entries(result.sort.stages)) {
  console.log(
    `  ${stage.padEnd(12)} ${t.seconds.toFixed(1).padStart(8)} s  ${(100 * t.share).toFixed(0).padStart(3)}%`,
  );
}
const [slowest, slowestSeconds] = Object.entries(timings).reduce((a, b) => (b[1] > a[1] ? b : a));
console.log(
  `slowest     ${slowest}: ${slowestSeconds.toFixed(1)} s = ${(statSync(binFile).size / slowestSeconds / 1e6).toFixed(0)} MB/s of recording`,
);
console.log(
  `read floor  ${(floor.bytes / 1e6).toFixed(0)} MB in ${floor.seconds.toFixed(2)} s = ${(floor.bytes / floor.seconds / 1e6).toFixed(0)} MB/s ` +
    `(${floor.cold ? 'page cache dropped' : 'page cache NOT dropped: not root'}); the sort took ${(sort.seconds / floor.seconds).toFixed(1)}× that`,
);
console.log(
  `found       ${runJson.results[0]!.clusters} clusters (${runJson.results[0]!.good} good), ${runJson.results[0]!.spikes} spikes`,
);
for (const b of [report.summary.all, ...report.summary.bySnr]) {
  console.log(
    `  ${b.label.padEnd(14)} ${String(b.nWellDetected).padStart(4)}/${String(b.nGtUnits).padEnd(4)} well detected (${pct(b.nWellDetected, b.nGtUnits)}), mean accuracy ${b.meanAccuracy.toFixed(3)}`,
  );
}
console.log(`  false-positive units labelled good: ${result.accuracy.falsePositiveGood}`);

interface DistributedRow {
  workers: number;
  wallSeconds: number;
  realTime: number;
  requests: number;
  retries: number;
  roundSeconds: number;
  globalSeconds: number;
  requestsPerSecond: number;
  bytesPerRequest: number;
  bytesSentPerRequest: number;
  bytesReceivedPerRequest: number;
  identical: boolean;
}
const distributed: DistributedRow[] = [];
function digests(dir: string): string {
  const r = spawnSync('sh', ['-c', `cd "${dir}" && find . -name '*.npy' -o -name '*.tsv' | sort | xargs sha1sum`], {
    encoding: 'utf8',
  });
  return r.stdout;
}
if (values.workers) {
  const reference = digests(path.join(out, runJson.results[0]!.probe, 'phy'));
  for (const n of values.workers.split(',').map(Number)) {
    const wout = path.join(work, `out-w${n}`);
    const r = run(
      [
        'sort',
        sim,
        '--out',
        wout,
        '--fresh',
        '--threads',
        values.threads,
        '--workers',
        String(n),
        '--backend',
        values.backend,
      ],
      'info',
    );
    const summary = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('distributed mode: ') && 'requests' in l) as
      { requests: number; retries: number; roundSeconds: number; bytesSent: number; bytesReceived: number } | undefined;
    if (!summary) throw new Error(`no distributed-mode summary in the log of --workers ${n}`);
    const wrun = JSON.parse(readFileSync(path.join(wout, 'run.json'), 'utf8')) as typeof runJson;
    const engineSeconds = Object.entries(wrun.results[0]!.timings)
      .filter(([k]) => k !== 'postprocess' && k !== 'export')
      .reduce((a, [, v]) => a + v, 0);
    const bytes = summary.bytesSent + summary.bytesReceived;
    distributed.push({
      workers: n,
      wallSeconds: r.seconds,
      realTime: durationS / r.seconds,
      requests: summary.requests,
      retries: summary.retries,
      roundSeconds: summary.roundSeconds,
      globalSeconds: engineSeconds - summary.roundSeconds + (wrun.results[0]!.timings['postprocess'] ?? 0),
      requestsPerSecond: summary.requests / summary.roundSeconds,
      bytesPerRequest: bytes / summary.requests,
      bytesSentPerRequest: summary.bytesSent / summary.requests,
      bytesReceivedPerRequest: summary.bytesReceived / summary.requests,
      identical: digests(path.join(wout, wrun.results[0]!.probe, 'phy')) === reference,
    });
  }
  console.log('distributed (local gRPC workers; batch requests of every round)');
  console.log('  workers   wall s  ×RT   rounds s  global s  batches/s  kB/batch (sent+recv)  identical');
  for (const d of distributed) {
    console.log(
      `  ${String(d.workers).padStart(7)} ${d.wallSeconds.toFixed(1).padStart(8)} ${d.realTime.toFixed(2).padStart(5)} ${d.roundSeconds.toFixed(1).padStart(9)} ${d.globalSeconds.toFixed(1).padStart(9)} ${d.requestsPerSecond.toFixed(2).padStart(10)}   ${(d.bytesPerRequest / 1024).toFixed(0).padStart(6)} (${(d.bytesSentPerRequest / 1024).toFixed(0)}+${(d.bytesReceivedPerRequest / 1024).toFixed(0)})   ${d.identical ? 'yes' : 'NO'}`,
    );
  }
}
if (values.json) writeFileSync(values.json, JSON.stringify({ ...result, distributed }, null, 2) + '\n');
if (!values.keep && !values.work) rmSync(work, { recursive: true, force: true });
