// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Shared by the opt-in cluster suites (containers, SLURM): probes for the features of
 * CONTRACT.md that land separately, simulated sessions, and output comparisons.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

/** Runs a command; never throws (status null when it could not start). */
export function sh(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/**
 * Why the distributed features a test needs are missing from this build, or undefined when
 * they are all there: `spikeshard worker` and `sort --worker-addresses/--worker-dir` (issue 4),
 * and for `resume` also the run-folder resume (`sort --fresh`).
 */
export function missingFeatures(needs: { worker?: boolean; resume?: boolean }): string | undefined {
  const missing: string[] = [];
  const sortHelp = runCli(['sort', '--help']).stdout;
  if (needs.worker) {
    // `spikeshard worker --help` prints the top-level help (status 0) when there is no such command.
    if (!/^\s+worker\b/m.test(runCli(['--help']).stdout)) missing.push('the `spikeshard worker` command');
    for (const option of ['--worker-addresses', '--worker-dir', '--secret-file'])
      if (!sortHelp.includes(option)) missing.push(`sort ${option}`);
  }
  if (needs.resume && !sortHelp.includes('--fresh')) missing.push('run-folder resume (sort --fresh)');
  return missing.length === 0 ? undefined : `not in this build yet (CONTRACT.md): ${missing.join(', ')}`;
}

/** Simulates a small session (32 channels) with its ground truth; fails the test on error. */
export function simulateSession(dir: string, options: { probes: number; seconds: number; seed: number }): void {
  const result = runCli([
    'simulate',
    dir,
    '--channels',
    '32',
    '--seconds',
    String(options.seconds),
    '--units',
    '8',
    '--snr-min',
    '8',
    '--probes',
    String(options.probes),
    '--seed',
    String(options.seed),
  ]);
  assert.equal(result.status, 0, result.stderr);
}

/** The summary of `spikeshard compare --json` for one probe's phy folder. */
export interface CompareSummary {
  nGtUnits: number;
  nWellDetected: number;
  meanAccuracy: number;
}

/** Scores a phy folder or ALF collection against the session's ground truth. */
export function compareProbe(sessionDir: string, probe: string, sortingDir: string): CompareSummary {
  const result = runCli(['compare', '--json', '--probe', probe, sessionDir, sortingDir]);
  assert.equal(result.status, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as { summary: { all: CompareSummary } };
  return parsed.summary.all;
}

/** A sorting that recovers the simulated units at all (the container and SLURM runs are checked for identity separately). */
export function assertUsefulSorting(summary: CompareSummary, what: string): void {
  assert.ok(
    summary.nWellDetected >= 1 && summary.meanAccuracy > 0.2,
    `${what}: expected at least one well-detected unit and mean accuracy > 0.2, got ${JSON.stringify(summary)}`,
  );
}

/**
 * SHA-1 of every .npy/.tsv output under a run folder's phy folders and ALF collections, keyed by
 * relative path: the determinism contract says these are byte-identical however the run went.
 */
export function outputDigests(outDir: string): Record<string, string> {
  const digests: Record<string, string> = {};
  const roots = readdirSync(outDir)
    .filter((entry) => existsSync(path.join(outDir, entry, 'phy')))
    .map((entry) => path.join(entry, 'phy'));
  if (existsSync(path.join(outDir, 'alf')))
    for (const entry of readdirSync(path.join(outDir, 'alf'))) roots.push(path.join('alf', entry));
  for (const root of roots.sort()) {
    const dir = path.join(outDir, root);
    if (!statSync(dir).isDirectory()) continue;
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith('.npy') && !file.endsWith('.tsv')) continue;
      digests[path.join(root, file)] = createHash('sha1')
        .update(readFileSync(path.join(dir, file)))
        .digest('hex');
    }
  }
  return digests;
}

/** Polls until `check` returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
