// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `node dist/test/bench/export-linalg-bench.js [--channels 384] [--templates 685] [--nt0 61]
 * [--threads 0] [--seed 1]`: the export's dense linear algebra, the former TypeScript loops
 * (test/helpers/js-export-linalg.ts) against the native kernels that replaced them, on a
 * whitening matrix made as the sorter makes it (local whitening of an NP1-like covariance) and
 * templates on the 32 channels around their peak. Prints wall and CPU milliseconds (all threads) per step and whether the
 * native results are the TypeScript ones bit for bit; asserts nothing.
 */
import { parseArgs } from 'node:util';
import {
  ChannelLabel,
  jacobiPseudoInverse,
  localWhitening,
  multiplyFloat32Rows,
  templatePeakToPeak,
} from '../../native/lib/index.js';
import { jsMultiplyRows, jsPseudoInverse, jsTemplatePeakToPeak } from '../helpers/js-export-linalg.js';
import { rng } from '../helpers/uniform.js';

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: '384' },
    templates: { type: 'string', default: '685' },
    nt0: { type: 'string', default: '61' },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
  },
});
const C = Number(values.channels);
const T = Number(values.templates);
const nt0 = Number(values.nt0);
const threads = Number(values.threads);
const rand = rng(Number(values.seed));

// NP1 checkerboard positions; covariance = white noise + a spatially smooth common component.
const xUm = Float64Array.from({ length: C }, (_, c) => [43, 11, 59, 27][c % 4]!);
const yUm = Float64Array.from({ length: C }, (_, c) => 20 * Math.floor(c / 2));
const covariance = new Float64Array(C * C);
for (let a = 0; a < C; a++) {
  for (let b = 0; b < C; b++) {
    const d = Math.hypot(xUm[a]! - xUm[b]!, yUm[a]! - yUm[b]!);
    covariance[a * C + b] = 40 * Math.exp(-d / 150) + (a === b ? 100 + 20 * rand() : 0);
  }
}
const whitening = localWhitening(covariance, {
  xUm,
  yUm,
  labels: new Int32Array(C).fill(ChannelLabel.good),
  nNearest: 32,
}).dense;

const waveforms = new Float32Array(T * nt0 * C);
for (let t = 0; t < T; t++) {
  const peak = Math.floor(rand() * C);
  for (let c = Math.max(0, peak - 16); c < Math.min(C, peak + 16); c++) {
    const gain = Math.exp(-Math.abs(c - peak) / 6) * (rand() < 0.5 ? -1 : 1);
    for (let i = 0; i < nt0; i++) waveforms[(t * nt0 + i) * C + c] = gain * Math.sin(i / 5 + c) * Math.exp(-i / 20);
  }
}
const uvPerCount = new Float64Array(C).fill(2.34375);

const cpuMs: number[] = [];
// Wall ms; the process's CPU ms (all threads) goes to cpuMs, for a machine shared with others.
function timed<R>(f: () => R): [R, number] {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const r = f();
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  cpuMs.push((used.user + used.system) / 1e3);
  return [r, wall];
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const [jsInv, jsInvMs] = timed(() => jsPseudoInverse(whitening, C, C));
const [nInv, nInvMs] = timed(() => jacobiPseudoInverse(whitening, C, C, undefined, threads));
const winv = nInv.inverse;
const [jsProduct, jsProductMs] = timed(() => jsMultiplyRows(waveforms, winv, T * nt0, C));
const [nProduct, nProductMs] = timed(() => multiplyFloat32Rows(waveforms, winv, T * nt0, C, threads));
const [jsP2p, jsP2pMs] = timed(() => jsTemplatePeakToPeak(waveforms, jsProduct, uvPerCount, T, nt0, C));
const [nP2p, nP2pMs] = timed(() => templatePeakToPeak(waveforms, nProduct, uvPerCount, T, nt0, C, threads));

let step = 0;
const row = (name: string, jsMs: number, nativeMs: number, same: boolean): string => {
  const [jsCpu, nativeCpu] = [cpuMs[step]!, cpuMs[step + 1]!];
  step += 2;
  const ms = (x: number): string => x.toFixed(1).padStart(9);
  return `${name.padEnd(16)} ${ms(jsMs)} ${ms(nativeMs)} ${(jsMs / nativeMs).toFixed(1).padStart(6)}× ${ms(jsCpu)} ${ms(nativeCpu)}  ${same ? 'bitwise equal' : 'DIFFERENT'}`;
};
console.log(`C = ${C}, T = ${T}, nt0 = ${nt0}, threads = ${threads || 'default'}; rank ${nInv.rank}`);
console.log(
  `${'step'.padEnd(16)} ${'TS ms'.padStart(9)} ${'native ms'.padStart(9)} ${'wall'.padStart(7)} ${'TS cpu ms'.padStart(9)} ${'nat. cpu'.padStart(9)}`,
);
console.log(
  row(
    'pseudo-inverse',
    jsInvMs,
    nInvMs,
    sameBits(jsInv.inverse, nInv.inverse) &&
      sameBits(jsInv.singularValues, nInv.singularValues) &&
      jsInv.rank === nInv.rank &&
      Object.is(jsInv.tolerance, nInv.tolerance),
  ),
);
console.log(row('templates · W⁺', jsProductMs, nProductMs, sameBits(jsProduct, nProduct)));
console.log(
  row(
    'peak-to-peak',
    jsP2pMs,
    nP2pMs,
    sameBits(jsP2p.p2pCounts, nP2p.p2pCounts) &&
      sameBits(jsP2p.p2pVolts, nP2p.p2pVolts) &&
      sameBits(jsP2p.peakChannels, nP2p.peakChannels),
  ),
);
