// SPDX-License-Identifier: GPL-3.0-or-later
/** Scoring a sorting against ground truth with SpikeInterface's definitions (docs/scoring.md). */
export { solveAssignment } from './hungarian.js';
export { buildSpikeTrains, countMatches, selectUnits, type SpikeTrains } from './spike-trains.js';
export {
  DEFAULT_COMPARISON_OPTIONS,
  agreementScores,
  compareSortings,
  deltaFramesFor,
  resolveComparisonOptions,
  unitPerformance,
  type Comparison,
  type ComparisonOptions,
  type TestedCategories,
  type UnitPerformance,
} from './comparison.js';
export {
  detectSortingFormat,
  parsePythonAssignments,
  readLabelTable,
  readTestedSorting,
  type SortingFormat,
  type TestedSorting,
} from './sorting-folder.js';
export { resolveTruthDir } from './truth-folder.js';
export {
  COMPARE_REPORT_FORMAT,
  DEFAULT_SNR_EDGES,
  scoreSorting,
  snrBins,
  summarise,
  truthSpikeTrains,
  type CompareReport,
  type CompareRequest,
  type ComparisonSummary,
  type GtGroupSummary,
  type GtUnitRow,
  type MatchRef,
  type SnrBin,
  type TestedCategory,
  type TestedSummary,
  type TestedUnitRow,
} from './report.js';
export { formatReport, renderTable } from './report-text.js';
export { explainUnit, type ExplainOptions, type UnitExplanation, type UnmatchedKind } from './explain.js';
