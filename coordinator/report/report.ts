// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard report`: the run folder's HTML report (docs/report.md). */
import path from 'node:path';
import { writeFileAtomic } from '../formats/atomic.js';
import { readRunReport } from './report-data.js';
import { renderReport } from './report-html.js';

export { readRunReport, readProbeReport, REPORT_MAX_SPIKES } from './report-data.js';
export type { ProbeReport, RunReport } from './report-data.js';
export { renderReport } from './report-html.js';

/** File name of the report inside a run folder. */
export const REPORT_FILE = 'report.html';

/**
 * Reads the finished run folder `runFolder` (run.json and its ALF collections) and writes its
 * report to `outFile` (default `runFolder/report.html`), atomically. Returns the report's path.
 */
export function writeRunReport(runFolder: string, outFile: string = path.join(runFolder, REPORT_FILE)): string {
  const html = renderReport(readRunReport(runFolder));
  writeFileAtomic(outFile, html);
  return outFile;
}
