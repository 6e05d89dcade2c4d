// SPDX-License-Identifier: GPL-3.0-or-later
import { spawnSync } from 'node:child_process';

let cached: boolean | undefined;

/** Whether python3 with numpy is available for cross-checks (tests skip the check otherwise). */
export function hasNumpy(): boolean {
  cached ??= spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
  return cached;
}

let pandasCached: boolean | undefined;

/** Whether python3 has pandas with a Parquet engine (pyarrow or fastparquet) to read the ALF tables. */
export function hasPandasParquet(): boolean {
  pandasCached ??=
    spawnSync(
      'python3',
      ['-c', 'import pandas, importlib.util as u; assert u.find_spec("pyarrow") or u.find_spec("fastparquet")'],
      { encoding: 'utf8' },
    ).status === 0;
  return pandasCached;
}

/** Runs a python3 snippet and returns its stdout; throws with stderr on failure. */
export function python(code: string): string {
  const r = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
