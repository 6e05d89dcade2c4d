// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the simulate area of the native core (native/src/addon/simulate.cc). */

/** Layout constants of the flat arrays below, as compiled into the addon. */
export interface SimulateLayout {
  shapeFields: number;
  componentFields: number;
  maxComponents: number;
  spikeFields: number;
  channelFields: number;
  pinkPoles: number;
  lfpFields: number;
  maxLfpSources: number;
}

/** The (distance, time) grid of the waveform tables. */
export interface RawTableGrid {
  sampleRateHz: number;
  preSamples: number;
  postSamples: number;
  upsample: number;
  drUm: number;
  nRadii: number;
}

/** Everything constant over a recording that the chunk synthesiser needs. */
export interface RawChunkSetup {
  seed: number;
  nChannels: number;
  sampleRateHz: number;
  /** nChannels × channelFields: x, y, whiteUv, pinkUv, commonGain, dcUv, dead, delaySamples. */
  channels: Float64Array;
  pinkPoles: Float64Array;
  pinkWeights: Float64Array;
  antialiasPole: number;
  commonWhiteUv: number;
  commonPinkUv: number;
  /** nLfp × lfpFields: centre Hz, bandwidth Hz, RMS µV. */
  lfpSources: Float64Array;
  /** nLfp × nChannels. */
  lfpProfiles: Float32Array;
  uvPerCount: number;
  adcMin: number;
  adcMax: number;
  syncBit: number;
  grid: RawTableGrid;
  tables: Float32Array;
  threads: number;
}

export interface SimulateBinding {
  /** [sync] The layouts compiled into the addon. */
  simulateLayout(): SimulateLayout;
  /** [sync] Waveform tables for shapes (n × shapeFields). Throws TypeError/RangeError on bad arguments. */
  simulateBuildTables(grid: RawTableGrid, shapes: Float64Array, threads: number): Float32Array;
  /** [sync] Spikes (n × spikeFields) rendered on sites (x, y pairs) into channel-major float32 (µV). */
  simulateRenderSpikes(
    grid: RawTableGrid,
    tables: Float32Array,
    spikes: Float64Array,
    siteXy: Float64Array,
    nSamples: number,
    threads: number,
  ): Float32Array;
  /** [sync] Zero-phase 3rd-order Butterworth high-pass of channel-major data, in place. */
  simulateHighpass(
    data: Float32Array,
    nChannels: number,
    nSamples: number,
    sampleRateHz: number,
    cutoffHz: number,
    threads: number,
  ): void;
  /** [sync] Per neural channel RMS (µV) of interleaved int16 after the zero-phase high-pass. */
  simulateSpikeBandRms(
    data: Int16Array,
    nSaved: number,
    nNeural: number,
    sampleRateHz: number,
    uvPerCount: number,
    cutoffHz: number,
    threads: number,
  ): Float32Array;
  /** [sync] Length of the state array for nChannels and nLfp sources. */
  simulateStateLength(nChannels: number, nLfp: number): number;
  /** [sync] A stationary initial state. */
  simulateInitState(setup: RawChunkSetup): Float64Array;
  /** [sync] Synthesises one chunk into out (nSamples × (nChannels + 1) int16), updating state in place. */
  simulateChunk(
    setup: RawChunkSetup,
    chunkIndex: number,
    startSample: number,
    nSamples: number,
    spikes: Float64Array,
    state: Float64Array,
    out: Int16Array,
  ): void;
}
