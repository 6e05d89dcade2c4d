// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Everything decided about one simulated probe before a sample is written: its layout (from the
 * same .meta the recording will carry), background, units, drift and waveform tables, and the
 * setup the native synthesiser takes.
 */
import path from 'node:path';
import {
  SIM_SPIKE,
  parseSpikeGlxMeta,
  simBuildTables,
  simTableFloats,
  simTableRowFloats,
  sortingPositions,
  spikeGlxLayout,
  spikeGlxMeta,
  type ProbeType,
  type RecordingLayout,
  type SimChunkSetup,
  type SimTableGrid,
} from '../../native/lib/index.js';
import { InputError } from '../../proto/errors.js';
import { DriftModel } from './drift.js';
import {
  antialiasPole,
  packChannels,
  pinkBank,
  planChannels,
  planCommonMode,
  planLfp,
  type ChannelPlan,
  type CommonMode,
  type LfpPlan,
} from './noise-model.js';
import type { SimulateOptions } from './options.js';
import { planHash, planTrueUnits, type HashPlan, type Sites, type TrueUnitPlan } from './population.js';
import { Random, streamKey } from './random.js';
import { packShapes } from './waveforms.js';

/** Samples per synthesis chunk; part of the output's definition (noise streams are per chunk). */
export const SIM_CHUNK_SAMPLES = 32768;
/** Waveform window around the soma time and table resolution. */
export const WINDOW_PRE_MS = 1.0;
export const WINDOW_POST_MS = 2.7;
export const TABLE_UPSAMPLE = 4;
export const TABLE_DR_UM = 2;
export const TABLE_R_MAX_UM = 160;
/** Sync: SpikeGLX puts the imec sync input on bit 6 of the SY word. */
export const SYNC_BIT = 6;
/** Contributions below this amplitude are not rendered (well under one ADC count). */
export const RENDER_FLOOR_UV = 0.25;
/** Largest per-spike amplitude factor (bursts, jitter) accounted for when choosing render radii. */
export const MAX_SPIKE_SCALE = 1.5;

export interface ProbePlan {
  index: number;
  label: string;
  binName: string;
  metaName: string;
  metaText: string;
  layout: RecordingLayout;
  nSamples: number;
  nChannels: number;
  uvPerCount: number;
  sites: Sites;
  channels: ChannelPlan;
  common: CommonMode;
  lfp: LfpPlan;
  units: TrueUnitPlan[];
  hash: HashPlan;
  /** Gain (µV per table unit) and render radius of each hash unit. */
  hashGain: Float64Array;
  hashRadiusUm: Float64Array;
  drift: DriftModel;
  grid: SimTableGrid;
  tables: Float32Array;
  /** Peak |A| + (1 + |α|)·|B| of each table row, per table (for render radii). */
  tableRowPeak: Float64Array;
  setup: SimChunkSetup;
  /** 32-bit seed of the native noise streams. */
  nativeSeed: number;
}

/**
 * When each channel is digitised within a sample period, in samples (formats.md §1.4): the
 * channels of one ADC are converted one after the other. NP1.0: 32 ADCs of 12 channels in 13
 * cycles, ADC = ⌊c/24⌋·2 + c mod 2, delay = (position on its ADC)/13; NP2.0: 24 ADCs of 16
 * channels in 16 cycles, ADC = ⌊c/32⌋·2 + c mod 2, delay = position/16.
 */
export function adcDelaySamples(probeType: ProbeType, nChannels: number): Float64Array {
  const [perAdcPair, cycles] = probeType === 'np1' ? [24, 13] : [32, 16];
  return Float64Array.from({ length: nChannels }, (_, c) => Math.floor((c % perAdcPair) / 2) / cycles);
}

export function probeLabel(index: number): string {
  return `imec${index}`;
}

export function binFileName(index: number): string {
  return `sim_g0_t0.${probeLabel(index)}.ap.bin`;
}

/** Plans probe `index` of a session. */
export function planProbe(options: SimulateOptions, index: number): ProbePlan {
  const fs = options.sampleRateHz;
  const nSamples = Math.round(options.durationS * fs);
  const label = probeLabel(index);
  const binName = binFileName(index);
  const metaName = binName.replace(/\.bin$/, '.meta');
  const metaText = spikeGlxMeta({
    probeType: options.probeType,
    nChannels: options.nChannels,
    sampleRateHz: fs,
    nSamples,
    probeIndex: index,
    userNotes: `simulated by spikeshard (seed ${options.seed})`,
  });
  // The simulator sees the probe exactly as a reader of the written .meta will.
  const meta = parseSpikeGlxMeta(metaText, path.join(options.out, metaName));
  const layout = spikeGlxLayout(meta);
  const uvPerCount = layout.uvPerCount[0]!;
  const maxInt = Number(meta.values.get('imMaxInt'));
  if (!Number.isSafeInteger(maxInt) || maxInt <= 0) {
    throw new InputError(metaName, `generated meta has imMaxInt=${meta.values.get('imMaxInt')}`);
  }
  const sites = sortingPositions(layout.geometry);
  const references = new Set<number>();
  layout.geometry.used.forEach((u, c) => {
    if (u === 0) references.add(c);
  });

  const seed = options.seed;
  const rng = (purpose: string): Random => new Random(seed, 'probe', index, purpose);
  const common = planCommonMode(options.noiseUv, fs);
  const channels = planChannels(
    rng('channels'),
    {
      nChannels: options.nChannels,
      noiseUv: options.noiseUv,
      sampleRateHz: fs,
      nDead: options.nDeadChannels,
      nNoisy: options.nNoisyChannels,
    },
    references,
    common,
  );
  const lfp = planLfp(rng('lfp'), options.lfpUv, sites.yUm);
  const units = planTrueUnits(rng('units'), options.nUnits, sites, [options.snrMin, options.snrMax]);
  const hash = planHash(rng('hash'), options.nHashUnits, sites);
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const y of sites.yUm) {
    yMin = Math.min(yMin, y);
    yMax = Math.max(yMax, y);
  }
  const drift = DriftModel.draw(rng('drift'), options.durationS, yMin, yMax, options.driftUm);

  const grid: SimTableGrid = {
    sampleRateHz: fs,
    preSamples: Math.ceil((WINDOW_PRE_MS * fs) / 1000),
    postSamples: Math.ceil((WINDOW_POST_MS * fs) / 1000),
    upsample: TABLE_UPSAMPLE,
    drUm: TABLE_DR_UM,
    nRadii: TABLE_R_MAX_UM / TABLE_DR_UM + 1,
  };
  const shapes = [...units.map((u) => u.shape), ...hash.prototypes];
  const tables = simBuildTables(grid, packShapes(shapes), options.threads);
  const tableRowPeak = rowPeaks(
    grid,
    tables,
    shapes.length,
    shapes.map((s) => s.alpha),
  );

  // Hash gains from the raw peak at the nearest site, and where each falls under the floor.
  const hashGain = new Float64Array(hash.xUm.length);
  const hashRadiusUm = new Float64Array(hash.xUm.length);
  for (let h = 0; h < hashGain.length; h++) {
    let nearest = Infinity;
    for (let c = 0; c < sites.xUm.length; c++) {
      const dx = sites.xUm[c]! - hash.xUm[h]!;
      const dy = sites.yUm[c]! - hash.yUm[h]!;
      nearest = Math.min(nearest, dx * dx + dy * dy);
    }
    nearest = Math.sqrt(nearest + hash.zUm[h]! ** 2);
    const table = units.length + hash.prototype[h]!;
    const peak = peakAt(grid, tables, table, nearest);
    hashGain[h] = peak > 0 ? hash.peakUv[h]! / peak : 0;
    hashRadiusUm[h] = renderRadius(grid, tableRowPeak, table, hashGain[h]! * MAX_SPIKE_SCALE);
  }

  const pink = pinkBank(fs);
  const nativeSeed = streamKey(seed, 'probe', index, 'native');
  const setup: SimChunkSetup = {
    seed: nativeSeed,
    nChannels: options.nChannels,
    sampleRateHz: fs,
    channels: packChannels(
      channels,
      sites.xUm,
      sites.yUm,
      options.adcDelays ? adcDelaySamples(options.probeType, options.nChannels) : new Float64Array(options.nChannels),
    ),
    pinkPoles: pink.poles,
    pinkWeights: pink.weights,
    antialiasPole: antialiasPole(fs),
    commonWhiteUv: common.whiteUv,
    commonPinkUv: common.pinkUv,
    lfpSources: lfp.sources,
    lfpProfiles: lfp.profiles,
    uvPerCount,
    adcMin: -maxInt,
    adcMax: maxInt - 1,
    syncBit: SYNC_BIT,
    grid,
    tables,
    threads: options.threads,
  };
  return {
    index,
    label,
    binName,
    metaName,
    metaText,
    layout,
    nSamples,
    nChannels: options.nChannels,
    uvPerCount,
    sites,
    channels,
    common,
    lfp,
    units,
    hash,
    hashGain,
    hashRadiusUm,
    drift,
    grid,
    tables,
    tableRowPeak,
    setup,
    nativeSeed,
  };
}

/** Per table and radius row: the largest |A| + (1 + |α|)·|B| over time, a bound on any site's value. */
function rowPeaks(grid: SimTableGrid, tables: Float32Array, nTables: number, alpha: number[]): Float64Array {
  const per = simTableFloats(grid);
  const nt = simTableRowFloats(grid);
  const out = new Float64Array(nTables * grid.nRadii);
  for (let t = 0; t < nTables; t++) {
    const k = 1 + Math.abs(alpha[t]!);
    for (let r = 0; r < grid.nRadii; r++) {
      const a = t * per + r * nt;
      const b = t * per + (grid.nRadii + r) * nt;
      let peak = 0;
      for (let j = 0; j < nt; j++) peak = Math.max(peak, Math.abs(tables[a + j]!) + k * Math.abs(tables[b + j]!));
      out[t * grid.nRadii + r] = peak;
    }
  }
  return out;
}

/** Largest |A + B| of a table at distance rUm (no asymmetry): the raw peak amplitude there. */
function peakAt(grid: SimTableGrid, tables: Float32Array, table: number, rUm: number): number {
  const per = simTableFloats(grid);
  const nt = simTableRowFloats(grid);
  const r = Math.min(grid.nRadii - 1, Math.round(rUm / grid.drUm));
  let peak = 0;
  for (let j = 0; j < nt; j++) {
    peak = Math.max(
      peak,
      Math.abs(tables[table * per + r * nt + j]! + tables[table * per + (grid.nRadii + r) * nt + j]!),
    );
  }
  return peak;
}

/** The distance beyond which a spike of this gain stays under RENDER_FLOOR_UV everywhere. */
export function renderRadius(grid: SimTableGrid, rowPeak: Float64Array, table: number, gain: number): number {
  for (let r = grid.nRadii - 1; r >= 0; r--) {
    if (rowPeak[table * grid.nRadii + r]! * gain >= RENDER_FLOOR_UV) {
      return Math.min(grid.drUm * (grid.nRadii - 1), grid.drUm * (r + 1));
    }
  }
  return 0;
}

/** Writes one spike record into a spike array. */
export function putSpike(
  out: Float64Array,
  k: number,
  s: { time: number; table: number; gain: number; alpha: number; x: number; y: number; z: number; radiusUm: number },
): void {
  const o = k * SIM_SPIKE.fields;
  out[o + SIM_SPIKE.time] = s.time;
  out[o + SIM_SPIKE.table] = s.table;
  out[o + SIM_SPIKE.gain] = s.gain;
  out[o + SIM_SPIKE.alpha] = s.alpha;
  out[o + SIM_SPIKE.x] = s.x;
  out[o + SIM_SPIKE.y] = s.y;
  out[o + SIM_SPIKE.z] = s.z;
  out[o + SIM_SPIKE.radiusUm] = s.radiusUm;
}
