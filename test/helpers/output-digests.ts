// SPDX-License-Identifier: GPL-3.0-or-later
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Digest of every output file but those that differ by design (run id and timings, cluster UUIDs, secret). */
export function outputDigests(dir: string, sub = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(dir, sub)).sort()) {
    const rel = path.join(sub, name);
    if (statSync(path.join(dir, rel)).isDirectory()) Object.assign(out, outputDigests(dir, rel));
    else if (!['run.json', '.secret', 'clusters.uuids.csv', 'report.html'].includes(name)) {
      out[rel] = createHash('sha1')
        .update(readFileSync(path.join(dir, rel)))
        .digest('hex');
    }
  }
  return out;
}
