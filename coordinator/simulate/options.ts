// SPDX-License-Identifier: GPL-3.0-or-later
/** The parameters of `spikeshard simulate`, their defaults and their allowed ranges. */
import { ParameterError, expected } from '../../proto/errors.js';
import type { ProbeType } from '../../native/lib/index.js';

export const PROBE_TYPES: readonly ProbeType[] = ['np1', 'np2', 'np2-4shank'];

/** Neural channels one probe records at once (all three families). */
export const MAX_CHANNELS = 384;

export interface SimulateOptions {
  /** Output folder. */
  out: string;
  probeType: ProbeType;
  /** Neural channels per probe (the first N of the probe's default map), 1–384. */
  nChannels: number;
  durationS: number;
  /** True (ground-truth) units per probe. */
  nUnits: number;
  /** Peak-to-peak drift over the recording and the probe's depth, µm. */
  driftUm: number;
  seed: number;
  /** Probes in the session (imec0 … imec<P-1>), each simulated independently. */
  nProbes: number;
  sampleRateHz: number;
  /** Median spike-band RMS of the per-channel noise, µV (channels vary ±25 % around it). */
  noiseUv: number;
  /** Typical RMS of the LFP-like signals, µV. */
  lfpUv: number;
  /** Background units per probe (the multi-unit hash, not in the truth). */
  nHashUnits: number;
  nDeadChannels: number;
  nNoisyChannels: number;
  /** Range of the true units' SNRs (spike-band trough / noise RMS). */
  snrMin: number;
  snrMax: number;
  /** Sample each channel at its ADC's staggered time within the sample period, as real probes do. */
  adcDelays: boolean;
  /** Threads of the native synthesis; 0 = all cores. */
  threads: number;
  /** Overwrite a non-empty output folder. */
  force: boolean;
}

/** What a caller may leave out. */
export type SimulateRequest = Partial<SimulateOptions> & { out: string };

/** Defaults that depend on the channel count are computed in {@link resolveSimulateOptions}. */
export const SIMULATE_DEFAULTS = {
  probeType: 'np1',
  nChannels: 384,
  durationS: 60,
  driftUm: 20,
  seed: 0,
  nProbes: 1,
  sampleRateHz: 30000,
  noiseUv: 8,
  lfpUv: 60,
  snrMin: 3,
  snrMax: 25,
  adcDelays: true,
  threads: 0,
  force: false,
} as const;

function check(ok: boolean, name: string, what: string, got: unknown): void {
  if (!ok) throw new ParameterError(`simulate ${name}: ${expected(what, got)}`);
}

function isInt(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi;
}

function isNum(v: unknown, lo: number, hi: number, openLo = false): boolean {
  return typeof v === 'number' && Number.isFinite(v) && (openLo ? v > lo : v >= lo) && v <= hi;
}

/** Fills in defaults and checks every value; a bad one is a ParameterError naming the option. */
export function resolveSimulateOptions(req: SimulateRequest): SimulateOptions {
  check(typeof req.out === 'string' && req.out !== '', '--out', 'a folder path', req.out);
  const probeType = req.probeType ?? SIMULATE_DEFAULTS.probeType;
  check(PROBE_TYPES.includes(probeType), '--probe', PROBE_TYPES.join(', '), probeType);
  const nChannels = req.nChannels ?? SIMULATE_DEFAULTS.nChannels;
  check(isInt(nChannels, 1, MAX_CHANNELS), '--channels', `an integer from 1 to ${MAX_CHANNELS}`, nChannels);
  const durationS = req.durationS ?? SIMULATE_DEFAULTS.durationS;
  check(isNum(durationS, 0.1, 86400), '--seconds', 'a duration from 0.1 to 86400 s', durationS);
  const nUnits = req.nUnits ?? Math.max(1, Math.round(nChannels / 4));
  check(isInt(nUnits, 0, 4000), '--units', 'an integer from 0 to 4000', nUnits);
  const driftUm = req.driftUm ?? SIMULATE_DEFAULTS.driftUm;
  check(isNum(driftUm, 0, 1000), '--drift', 'a peak-to-peak drift from 0 to 1000 µm', driftUm);
  const seed = req.seed ?? SIMULATE_DEFAULTS.seed;
  check(isInt(seed, 0, Number.MAX_SAFE_INTEGER), '--seed', 'an integer >= 0', seed);
  const nProbes = req.nProbes ?? SIMULATE_DEFAULTS.nProbes;
  check(isInt(nProbes, 1, 16), '--probes', 'an integer from 1 to 16', nProbes);
  const sampleRateHz = req.sampleRateHz ?? SIMULATE_DEFAULTS.sampleRateHz;
  check(isNum(sampleRateHz, 10000, 100000), '--sample-rate', 'a rate from 10000 to 100000 Hz', sampleRateHz);
  const noiseUv = req.noiseUv ?? SIMULATE_DEFAULTS.noiseUv;
  check(isNum(noiseUv, 0.5, 200), '--noise-uv', 'a noise RMS from 0.5 to 200 µV', noiseUv);
  const lfpUv = req.lfpUv ?? SIMULATE_DEFAULTS.lfpUv;
  check(isNum(lfpUv, 0, 2000), '--lfp-uv', 'an LFP RMS from 0 to 2000 µV', lfpUv);
  const nHashUnits = req.nHashUnits ?? 8 * nChannels;
  check(isInt(nHashUnits, 0, 100000), '--hash-units', 'an integer from 0 to 100000', nHashUnits);
  const nDeadChannels = req.nDeadChannels ?? Math.round(nChannels / 192);
  check(
    isInt(nDeadChannels, 0, Math.floor(nChannels / 4)),
    '--dead-channels',
    'at most a quarter of the channels',
    nDeadChannels,
  );
  const nNoisyChannels = req.nNoisyChannels ?? Math.round(nChannels / 192);
  check(
    isInt(nNoisyChannels, 0, Math.floor(nChannels / 4)),
    '--noisy-channels',
    'at most a quarter of the channels',
    nNoisyChannels,
  );
  const snrMin = req.snrMin ?? SIMULATE_DEFAULTS.snrMin;
  const snrMax = req.snrMax ?? SIMULATE_DEFAULTS.snrMax;
  check(isNum(snrMin, 0.5, 1000), '--snr-min', 'an SNR from 0.5 to 1000', snrMin);
  check(isNum(snrMax, snrMin, 1000), '--snr-max', `an SNR from --snr-min (${snrMin}) to 1000`, snrMax);
  const threads = req.threads ?? SIMULATE_DEFAULTS.threads;
  check(isInt(threads, 0, 1024), '--threads', 'an integer from 0 (all cores) to 1024', threads);
  const adcDelays = req.adcDelays ?? SIMULATE_DEFAULTS.adcDelays;
  check(typeof adcDelays === 'boolean', '--adc-delay', 'true or false', adcDelays);
  const force = req.force ?? SIMULATE_DEFAULTS.force;
  check(typeof force === 'boolean', '--force', 'true or false', force);
  return {
    out: req.out,
    probeType,
    nChannels,
    durationS,
    nUnits,
    driftUm,
    seed,
    nProbes,
    sampleRateHz,
    noiseUv,
    lfpUv,
    nHashUnits,
    nDeadChannels,
    nNoisyChannels,
    snrMin,
    snrMax,
    adcDelays,
    threads,
    force,
  };
}
