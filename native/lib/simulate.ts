// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The simulator's native kernels: waveform tables, spike rendering, the spike-band high-pass and
 * chunk synthesis. The flat layouts below must match native/src/core/simulate*.h; they are
 * checked against the addon the first time it is used.
 */
import { loadCpuBinding } from './load.js';
import type { RawChunkSetup, RawTableGrid, SimulateLayout } from './binding-simulate.js';

export type { RawChunkSetup as SimChunkSetup, RawTableGrid as SimTableGrid } from './binding-simulate.js';

/** Fields of one waveform shape (see ShapeField in simulate_waveform.h). */
export const SIM_SHAPE = {
  somaScaleUm: 0,
  somaPower: 1,
  somaWidenMsPer100Um: 2,
  somaSpeedUmPerMs: 3,
  dendScaleUm: 4,
  dendPower: 5,
  dendWidenMsPer100Um: 6,
  dendSpeedUmPerMs: 7,
  componentCount: 8,
  firstComponent: 9,
  componentFields: 4,
  maxComponents: 6,
  fields: 33,
} as const;

/**
 * Fields of one spike to render: soma time (samples, relative to the buffer), table, gain (µV per
 * table unit), α, soma x, y, z (µm) and the radius beyond which it is not rendered (µm).
 */
export const SIM_SPIKE = { time: 0, table: 1, gain: 2, alpha: 3, x: 4, y: 5, z: 6, radiusUm: 7, fields: 8 } as const;

/** Fields of one channel of the chunk setup. */
export const SIM_CHANNEL = {
  x: 0,
  y: 1,
  whiteUv: 2,
  pinkUv: 3,
  commonGain: 4,
  dcUv: 5,
  dead: 6,
  /** ADC sampling delay in [0, 1) samples: sample i holds the signal at time i + delay. */
  delaySamples: 7,
  fields: 8,
} as const;

export const SIM_PINK_POLES = 8;
export const SIM_LFP_FIELDS = 3;
export const SIM_MAX_LFP_SOURCES = 16;

let checked = false;

function binding(): ReturnType<typeof loadCpuBinding> {
  const b = loadCpuBinding();
  if (!checked) {
    const want: SimulateLayout = {
      shapeFields: SIM_SHAPE.fields,
      componentFields: SIM_SHAPE.componentFields,
      maxComponents: SIM_SHAPE.maxComponents,
      spikeFields: SIM_SPIKE.fields,
      channelFields: SIM_CHANNEL.fields,
      pinkPoles: SIM_PINK_POLES,
      lfpFields: SIM_LFP_FIELDS,
      maxLfpSources: SIM_MAX_LFP_SOURCES,
    };
    const got = b.simulateLayout();
    for (const key of Object.keys(want) as Array<keyof SimulateLayout>) {
      if (got[key] !== want[key]) {
        throw new Error(`native simulate layout mismatch: ${key} is ${got[key]} in the addon, ${want[key]} in TS`);
      }
    }
    checked = true;
  }
  return b;
}

/** Floats of one table row: `upsample` phases of preSamples + postSamples + 2 samples. */
export function simTableRowFloats(grid: RawTableGrid): number {
  return grid.upsample * (grid.preSamples + grid.postSamples + 2);
}

/** Floats of one table: A and B terms × radii × rows (layout [A|B][radius][phase][sample]). */
export function simTableFloats(grid: RawTableGrid): number {
  return 2 * grid.nRadii * simTableRowFloats(grid);
}

/** Waveform tables for `shapes` (n × SIM_SHAPE.fields), float32, unit gain. */
export function simBuildTables(grid: RawTableGrid, shapes: Float64Array, threads = 0): Float32Array {
  return binding().simulateBuildTables(grid, shapes, threads);
}

/** Renders spikes on sites (x, y pairs, µV positions) into channel-major float32 µV (sites × nSamples). */
export function simRenderSpikes(
  grid: RawTableGrid,
  tables: Float32Array,
  spikes: Float64Array,
  siteXy: Float64Array,
  nSamples: number,
  threads = 0,
): Float32Array {
  return binding().simulateRenderSpikes(grid, tables, spikes, siteXy, nSamples, threads);
}

/** Zero-phase 3rd-order Butterworth high-pass of channel-major float32 data, in place. */
export function simHighpass(
  data: Float32Array,
  nChannels: number,
  nSamples: number,
  sampleRateHz: number,
  cutoffHz = 300,
  threads = 0,
): void {
  binding().simulateHighpass(data, nChannels, nSamples, sampleRateHz, cutoffHz, threads);
}

/**
 * Spike-band RMS (µV) of each neural channel of interleaved int16 data: mean removed, zero-phase
 * 3rd-order Butterworth high-pass at cutoffHz, first and last 20 ms left out.
 */
export function simSpikeBandRms(
  data: Int16Array,
  nSaved: number,
  nNeural: number,
  sampleRateHz: number,
  uvPerCount: number,
  cutoffHz = 300,
  threads = 0,
): Float32Array {
  return binding().simulateSpikeBandRms(data, nSaved, nNeural, sampleRateHz, uvPerCount, cutoffHz, threads);
}

/** A stationary initial filter state for a setup. */
export function simInitState(setup: RawChunkSetup): Float64Array {
  return binding().simulateInitState(setup);
}

/**
 * Synthesises chunk `chunkIndex` (samples [startSample, startSample + nSamples)) into `out`,
 * interleaved int16 with nChannels + 1 columns; `state` carries the filters from the previous
 * chunk and is updated. Chunks must be synthesised in order from one state.
 */
export function simSynthesizeChunk(
  setup: RawChunkSetup,
  chunkIndex: number,
  startSample: number,
  nSamples: number,
  spikes: Float64Array,
  state: Float64Array,
  out: Int16Array,
): void {
  binding().simulateChunk(setup, chunkIndex, startSample, nSamples, spikes, state, out);
}
