// SPDX-License-Identifier: GPL-3.0-or-later
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  DEFAULT_COMPARISON_OPTIONS,
  DEFAULT_SNR_EDGES,
  formatReport,
  scoreSorting,
  type SortingFormat,
} from '../../compare/index.js';
import type { CliContext } from '../main.js';

interface CompareCliOptions {
  json?: boolean;
  units?: boolean;
  explain?: boolean;
  probe?: string;
  format: SortingFormat | 'auto';
  deltaMs: number;
  matchScore: number;
  chanceScore: number;
  wellDetected: number;
  redundantScore: number;
  overmergedScore: number;
  snrBins: number[];
}

function nonNegativeNumber(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError('expected a number ≥ 0.');
  return v;
}

function score(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new InvalidArgumentError('expected a score between 0 and 1.');
  }
  return v;
}

function edges(text: string): number[] {
  if (text.trim() === '') return [];
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((v, k) => !Number.isFinite(v) || (k > 0 && !(v > values[k - 1]!)))) {
    throw new InvalidArgumentError('expected ascending comma-separated numbers, e.g. 5,8.');
  }
  return values;
}

/** `spikeshard compare GT_DIR SORTING_DIR`: scores a sorting against ground truth. */
export function registerCompare(program: Command, ctx: CliContext): void {
  const d = DEFAULT_COMPARISON_OPTIONS;
  program
    .command('compare')
    .description(
      "Score a sorting (phy folder or ALF collection) against ground truth with SpikeInterface's definitions " +
        '(GroundTruthComparison, Hungarian matching, exhaustive ground truth). See docs/scoring.md.',
    )
    .argument('<GT_DIR>', 'ground-truth folder (truth.json), or a simulate output folder with ground_truth/<probe>/')
    .argument('<SORTING_DIR>', 'phy output folder or ALF collection')
    .option('--json', 'print the whole result as JSON on stdout')
    .option('--units', 'add per-unit tables to the text output')
    .option('--explain', 'say what each unmatched (good) unit is made of: fragment, shifted copy, mixture, ...')
    .option('--probe <label>', 'which ground_truth/<probe> to use when GT_DIR holds several')
    .addOption(new Option('--format <format>', 'format of SORTING_DIR').choices(['auto', 'phy', 'alf']).default('auto'))
    .option('--delta-ms <ms>', 'largest spike time difference that matches (ms)', nonNegativeNumber, d.deltaMs)
    .option('--match-score <score>', 'agreement needed for a one-to-one match', score, d.matchScore)
    .option('--chance-score <score>', 'agreement needed for a possible/best match', score, d.chanceScore)
    .option('--well-detected <score>', 'agreement at which a matched unit is well detected', score, d.wellDetectedScore)
    .option('--redundant-score <score>', 'agreement at which an unmatched unit is redundant', score, d.redundantScore)
    .option(
      '--overmerged-score <score>',
      'agreement above which a unit counts towards overmerging',
      score,
      d.overmergedScore,
    )
    .option('--snr-bins <edges>', 'ascending SNR bin edges, comma-separated', edges, [...DEFAULT_SNR_EDGES])
    .action((gtDir: string, sortingDir: string, opts: CompareCliOptions) => {
      const report = scoreSorting({
        gtDir,
        sortingDir,
        ...(opts.probe !== undefined ? { probe: opts.probe } : {}),
        format: opts.format,
        options: {
          deltaMs: opts.deltaMs,
          matchScore: opts.matchScore,
          chanceScore: opts.chanceScore,
          wellDetectedScore: opts.wellDetected,
          redundantScore: opts.redundantScore,
          overmergedScore: opts.overmergedScore,
        },
        snrEdges: opts.snrBins,
        explain: opts.explain ?? false,
      });
      ctx.stdout(opts.json ? JSON.stringify(report, null, 2) : formatReport(report, { units: opts.units ?? false }));
    });
}
