// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Every sorting parameter, declared once: name, unit, default, allowed range, pipeline stage and
 * help. The CLI options, validation on the coordinator and the workers, the run folder's
 * params.json and docs/params.md all come from this table; no default appears anywhere else.
 */
import { ParameterError, expected } from './errors.js';

export type ParamStage =
  'batching' | 'preprocess' | 'drift' | 'learning' | 'extraction' | 'postprocess' | 'export' | 'run';

interface SpecBase {
  unit: string;
  stage: ParamStage;
  help: string;
}
export interface NumberSpec extends SpecBase {
  kind: 'number' | 'integer';
  default: number;
  min: number;
  max: number;
}
export interface BooleanSpec extends SpecBase {
  kind: 'boolean';
  default: boolean;
}
export interface ChoiceSpec<C extends string = string> extends SpecBase {
  kind: 'choice';
  default: C;
  choices: readonly C[];
}
export type ParamSpec = NumberSpec | BooleanSpec | ChoiceSpec;

const num = (d: number, min: number, max: number, unit: string, stage: ParamStage, help: string): NumberSpec => ({
  kind: 'number',
  default: d,
  min,
  max,
  unit,
  stage,
  help,
});
const int = (d: number, min: number, max: number, unit: string, stage: ParamStage, help: string): NumberSpec => ({
  kind: 'integer',
  default: d,
  min,
  max,
  unit,
  stage,
  help,
});
const bool = (d: boolean, stage: ParamStage, help: string): BooleanSpec => ({
  kind: 'boolean',
  default: d,
  unit: '',
  stage,
  help,
});
function choice<const C extends string>(d: C, choices: readonly C[], stage: ParamStage, help: string): ChoiceSpec<C> {
  return { kind: 'choice', default: d, choices, unit: '', stage, help };
}

export const PARAMS = {
  batchSamples: int(65_600, 4_096, 1_048_576, 'samples', 'batching', 'samples per batch (Kilosort NT)'),
  haloSamples: int(
    1_024,
    64,
    16_384,
    'samples',
    'batching',
    'samples read on each side of a batch so no spike is lost at its edges',
  ),
  highpassHz: num(300, 10, 5_000, 'Hz', 'preprocess', 'cut-off of the zero-phase Butterworth high-pass'),
  highpassOrder: int(3, 1, 8, '', 'preprocess', 'order of the Butterworth high-pass'),
  commonReference: choice(
    'median',
    ['median', 'none'] as const,
    'preprocess',
    'common reference subtracted across good channels',
  ),
  preprocessing: choice(
    'ks25',
    ['ks25', 'ibl'] as const,
    'preprocess',
    'ks25: high-pass + common reference; ibl: IBL destriping (high-pass, ADC sample-shift correction, bad-channel ' +
      'interpolation, spatial high-pass per shank, saturation mute; docs/preprocessing.md)',
  ),
  detectBadChannels: bool(true, 'preprocess', 'label dead, noisy and outside-the-brain channels and leave them out'),
  whiteningChannels: int(32, 1, 384, 'channels', 'preprocess', 'channels in each local whitening neighbourhood'),
  statWindows: int(25, 3, 200, 'windows', 'preprocess', 'windows sampled for channel statistics and whitening'),
  statWindowS: num(0.4, 0.05, 5, 's', 'preprocess', 'length of each statistics window'),
  driftCorrection: bool(true, 'drift', 'estimate and correct probe drift'),
  driftBlocks: int(5, 1, 32, 'blocks', 'drift', 'depth blocks for non-rigid registration (1 = rigid only)'),
  driftDetectThreshold: num(8, 4, 30, 'σ', 'drift', 'threshold of the generic-template spike detector used for drift'),
  krigingSigmaUm: num(
    20,
    1,
    200,
    'µm',
    'drift',
    'horizontal length scale of the kriging kernel that applies the shift (vertical is 1.5×)',
  ),
  snippetThreshold: num(6, 2, 30, 'σ', 'learning', 'threshold for isolated peaks that define prototype waveforms'),
  learnThreshold: num(6, 2, 30, 'σ', 'learning', 'matching threshold while learning templates (Kilosort Th[0])'),
  extractThreshold: num(3, 1, 30, 'σ', 'extraction', 'matching threshold of the final extraction (Kilosort Th[1])'),
  amplitudePrior: num(10, 0, 1_000, '', 'learning', 'weight of the amplitude prior in matching pursuit (Kilosort lam)'),
  minFiringRateHz: num(0.02, 0, 10, 'Hz', 'learning', 'templates firing below this are dropped during learning'),
  momentumStart: num(
    20,
    1,
    10_000,
    'spikes',
    'learning',
    'time constant of the template running mean at the start of learning',
  ),
  momentumEnd: num(
    400,
    1,
    100_000,
    'spikes',
    'learning',
    'time constant of the template running mean at the end of learning',
  ),
  maxTemplatesPerChannel: int(4, 1, 16, 'templates', 'learning', 'template cap as a multiple of the channel count'),
  learningRoundBatches: int(
    8,
    1,
    256,
    'batches',
    'learning',
    'batches matched per learning round and pooled in batch order (independent of the worker count)',
  ),
  learningBatches: int(
    0,
    0,
    1_000_000,
    'batches',
    'learning',
    'batches visited while learning, spread over the recording (0 = all)',
  ),
  splitConfidence: num(0.9, 0.5, 1, '', 'postprocess', 'minimum confidence of a bimodal split (Kilosort AUCsplit)'),
  mergeSimilarity: num(0.5, 0, 1, '', 'postprocess', 'template similarity above which a merge is considered'),
  contaminationGood: num(
    0.1,
    0,
    1,
    '',
    'postprocess',
    'refractory contamination below which a cluster is labelled good',
  ),
  maxMissingGood: num(
    0.1,
    0,
    0.5,
    '',
    'postprocess',
    'a cluster whose amplitude distribution misses more than this fraction below threshold is not labelled good',
  ),
  // 256: ibllib's spike-sorting task calls ibldsp's extract_wfs_cbin with max_wf=256. The traces
  // go through files, so memory holds one cluster's block (30 KB per waveform on Neuropixels 1.0)
  // and the table (~112 bytes per slot); at most 1024 because of the disk: waveforms.traces.npy
  // takes 10 KB per slot (7 GB for 700 clusters at 1024), with a float32 scratch file of twice
  // that per extracted waveform while they are cut.
  iblWaveformsPerCluster: int(
    256,
    0,
    1_024,
    'waveforms',
    'export',
    "spikes per cluster cut from the recording (IBL's preprocessing) into the ALF waveforms.* datasets, as " +
      "ibllib's spike-sorting task writes them (0 = not written); each costs 10 KB of waveforms.traces.npy on " +
      'Neuropixels 1.0 (2.6 MB per cluster at 256) and 20 KB of scratch disk while cut; memory does not grow with it ' +
      '(docs/outputs.md)',
  ),
  seed: int(42, 0, 2 ** 31 - 1, '', 'run', 'seed of every random choice (batch order, k-means initialisation)'),
} as const satisfies Record<string, ParamSpec>;

export type ParamName = keyof typeof PARAMS;

type ValueOf<S> = S extends NumberSpec
  ? number
  : S extends BooleanSpec
    ? boolean
    : S extends ChoiceSpec<infer C>
      ? C
      : never;

/** Resolved parameters: every field present and validated. */
export type SortParams = { -readonly [K in ParamName]: ValueOf<(typeof PARAMS)[K]> };

export function defaultParams(): SortParams {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(PARAMS)) out[name] = spec.default;
  return out as SortParams;
}

/** Checks one value against its spec; throws ParameterError naming the parameter. */
export function checkParam(name: string, value: unknown): number | boolean | string {
  const spec = (PARAMS as Record<string, ParamSpec>)[name];
  if (spec === undefined) {
    throw new ParameterError(`unknown parameter ${JSON.stringify(name)}; known: ${Object.keys(PARAMS).join(', ')}`);
  }
  switch (spec.kind) {
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ParameterError(`${name}: ${expected('a finite number', value)}`);
      }
      if (spec.kind === 'integer' && !Number.isInteger(value)) {
        throw new ParameterError(`${name}: ${expected('an integer', value)}`);
      }
      if (value < spec.min || value > spec.max) {
        throw new ParameterError(
          `${name}: ${expected(`a value in [${spec.min}, ${spec.max}] ${spec.unit}`.trim(), value)}`,
        );
      }
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new ParameterError(`${name}: ${expected('true or false', value)}`);
      return value;
    case 'choice':
      if (typeof value !== 'string' || !spec.choices.includes(value)) {
        throw new ParameterError(`${name}: ${expected(`one of ${spec.choices.join(', ')}`, value)}`);
      }
      return value;
  }
}

/** Defaults overlaid with `given`, every value checked, plus cross-parameter rules. */
export function resolveParams(given: Partial<Record<string, unknown>> = {}): SortParams {
  const out = defaultParams() as Record<string, unknown>;
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    out[name] = checkParam(name, value);
  }
  const p = out as SortParams;
  if (p.extractThreshold > p.learnThreshold) {
    throw new ParameterError(
      `extractThreshold (${p.extractThreshold}) must not exceed learnThreshold (${p.learnThreshold}): extraction keeps every spike learning saw`,
    );
  }
  if (p.momentumEnd < p.momentumStart) {
    throw new ParameterError(`momentumEnd (${p.momentumEnd}) must be ≥ momentumStart (${p.momentumStart})`);
  }
  if (p.haloSamples * 2 >= p.batchSamples) {
    throw new ParameterError(
      `haloSamples (${p.haloSamples}) must be less than half of batchSamples (${p.batchSamples})`,
    );
  }
  return p;
}

/** `batchSamples` → `--batch-samples`. */
export function cliFlag(name: string): string {
  return '--' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** The help line of a parameter: description, unit, default and range. */
export function paramHelp(name: ParamName): string {
  const spec: ParamSpec = PARAMS[name];
  const unit = spec.unit ? ` ${spec.unit}` : '';
  switch (spec.kind) {
    case 'number':
    case 'integer':
      return `${spec.help} (${spec.stage}; default ${spec.default}${unit}; range ${spec.min}–${spec.max})`;
    case 'boolean':
      return `${spec.help} (${spec.stage}; default ${spec.default})`;
    case 'choice':
      return `${spec.help} (${spec.stage}; default ${spec.default}; one of ${spec.choices.join(', ')})`;
  }
}
