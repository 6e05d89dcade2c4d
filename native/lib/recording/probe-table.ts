// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The Neuropixels probes spikeshard reads, with the layout and ADC facts of the IMEC probe table
 * (docs: formats.md §1.3–1.5). Positions follow SpikeGLX: x from the left edge of the shank,
 * y = 0 at the bottom electrode row.
 */

/** The probe families spikeshard sorts. */
export type ProbeType = 'np1' | 'np2' | 'np2-4shank';

/** One probe model: what its type code implies about layout, ADC and gain. */
export interface ProbeModel {
  readonly type: ProbeType;
  /** `imDatPrb_type` (0 for NP1.0 including phase 3A). */
  readonly typeCode: number;
  /** Human name for messages and `info`. */
  readonly name: string;
  /** NP2.0 prototypes (types 21, 24) have a different ADC and a fixed gain of 80. */
  readonly prototype: boolean;
  readonly nShanks: number;
  /** Distance between shank left edges; 0 for single-shank probes. */
  readonly shankPitchUm: number;
  readonly shankWidthUm: number;
  readonly columnsPerShank: number;
  readonly rowsPerShank: number;
  readonly horizontalPitchUm: number;
  readonly verticalPitchUm: number;
  /** x of column 0 on even rows (0, 2, …), from the shank's left edge. */
  readonly evenRowXUm: number;
  /** x of column 0 on odd rows; differs from the even rows on the staggered NP1.0. */
  readonly oddRowXUm: number;
  /** Default `imAiRangeMax` in volts. */
  readonly adcRangeV: number;
  /** Default `imMaxInt`: the ADC full-scale count. */
  readonly maxInt: number;
  /** The AP gain when the probe has no per-channel gain (NP2.0); `null` for NP1.0. */
  readonly fixedApGain: number | null;
  /** A part number SpikeGLX writes for this model, used by the meta writer. */
  readonly partNumber: string;
}

const np1Layout = {
  nShanks: 1,
  shankPitchUm: 0,
  shankWidthUm: 70,
  columnsPerShank: 2,
  rowsPerShank: 480,
  horizontalPitchUm: 32,
  verticalPitchUm: 20,
  evenRowXUm: 27,
  oddRowXUm: 11,
  adcRangeV: 0.6,
  maxInt: 512,
  fixedApGain: null,
} as const;

const np2Layout = {
  shankWidthUm: 70,
  columnsPerShank: 2,
  rowsPerShank: 640,
  horizontalPitchUm: 32,
  verticalPitchUm: 15,
  evenRowXUm: 27,
  oddRowXUm: 27,
} as const;

const np2Commercial = { prototype: false, adcRangeV: 0.62, maxInt: 2048, fixedApGain: 100 } as const;
const np2Prototype = { prototype: true, adcRangeV: 0.5, maxInt: 8192, fixedApGain: 80 } as const;
const oneShank = { nShanks: 1, shankPitchUm: 0 } as const;
const fourShanks = { nShanks: 4, shankPitchUm: 250 } as const;

const MODELS: readonly ProbeModel[] = [
  { type: 'np1', typeCode: 0, name: 'Neuropixels 1.0', prototype: false, partNumber: 'PRB_1_4_0480_1_C', ...np1Layout },
  {
    type: 'np2',
    typeCode: 21,
    name: 'Neuropixels 2.0 single-shank prototype',
    partNumber: 'NP2000',
    ...np2Layout,
    ...oneShank,
    ...np2Prototype,
  },
  {
    type: 'np2',
    typeCode: 2003,
    name: 'Neuropixels 2.0 single-shank',
    partNumber: 'NP2003',
    ...np2Layout,
    ...oneShank,
    ...np2Commercial,
  },
  {
    type: 'np2',
    typeCode: 2004,
    name: 'Neuropixels 2.0 single-shank',
    partNumber: 'NP2004',
    ...np2Layout,
    ...oneShank,
    ...np2Commercial,
  },
  {
    type: 'np2-4shank',
    typeCode: 24,
    name: 'Neuropixels 2.0 four-shank prototype',
    partNumber: 'NP2010',
    ...np2Layout,
    ...fourShanks,
    ...np2Prototype,
  },
  {
    type: 'np2-4shank',
    typeCode: 2013,
    name: 'Neuropixels 2.0 four-shank',
    partNumber: 'NP2014',
    ...np2Layout,
    ...fourShanks,
    ...np2Commercial,
  },
  {
    type: 'np2-4shank',
    typeCode: 2014,
    name: 'Neuropixels 2.0 four-shank',
    partNumber: 'NP2014',
    ...np2Layout,
    ...fourShanks,
    ...np2Commercial,
  },
];

/** The type codes spikeshard knows, for error messages. */
export const KNOWN_TYPE_CODES: readonly number[] = MODELS.map((m) => m.typeCode);

/** The model of an `imDatPrb_type` code, or `undefined` if spikeshard does not support it. */
export function probeModelOfTypeCode(typeCode: number): ProbeModel | undefined {
  return MODELS.find((m) => m.typeCode === typeCode);
}

/** Newer SpikeGLX may write a part number where the imro type used to be. */
const PART_NUMBER_TYPE_CODES: Readonly<Record<string, number>> = {
  NP1000: 0,
  NP1010: 0,
  NP2000: 21,
  NP2003: 2003,
  NP2004: 2004,
  NP2010: 24,
  NP2013: 2013,
  NP2014: 2014,
};

/** The type code of an imro header field (`0`, `2013`, or a part number such as `NP2014`). */
export function typeCodeOfImroHeader(field: string): number | undefined {
  if (/^\d+$/.test(field)) return Number(field);
  return PART_NUMBER_TYPE_CODES[field];
}

/** The default model of each family, used by the meta writer. */
export function defaultProbeModel(type: ProbeType): ProbeModel {
  const code = type === 'np1' ? 0 : type === 'np2' ? 2003 : 2013;
  return probeModelOfTypeCode(code)!;
}

/** Position of a site given its column and row on its shank (the `~snsShankMap` fields). */
export function sitePositionUm(model: ProbeModel, column: number, row: number): { xUm: number; yUm: number } {
  const firstColumnXUm = row % 2 === 0 ? model.evenRowXUm : model.oddRowXUm;
  return { xUm: firstColumnXUm + column * model.horizontalPitchUm, yUm: row * model.verticalPitchUm };
}

/** Position of electrode `electrode` (0-based, within its shank): electrodes fill rows left to right. */
export function electrodePositionUm(model: ProbeModel, electrode: number): { xUm: number; yUm: number } {
  const column = electrode % model.columnsPerShank;
  const row = Math.floor(electrode / model.columnsPerShank);
  return sitePositionUm(model, column, row);
}

/** Electrodes per shank. */
export function electrodesPerShank(model: ProbeModel): number {
  return model.columnsPerShank * model.rowsPerShank;
}

/**
 * Acquisition channels wired to a reference site, which SpikeGLX marks unused (and Kilosort
 * leaves out): channel 191 on NP1.0, channel 127 on the NP2.0 prototypes, ten channels on
 * phase 3A. Commercial NP2.0 probes have none. (Read from SpikeGLX-written shank maps.)
 */
export function referenceChannels(model: ProbeModel, phase3A: boolean): readonly number[] {
  if (phase3A) return [36, 75, 112, 151, 188, 227, 264, 303, 340, 379];
  if (model.type === 'np1') return [191];
  return model.prototype ? [127] : [];
}
