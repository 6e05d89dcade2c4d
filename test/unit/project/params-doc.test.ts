// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../native/lib/index.js';
import { paramsMarkdown } from '../../../coordinator/docs/params-table.js';

test('docs/params.md is generated from the current registry', () => {
  const onDisk = readFileSync(path.join(packageRoot(), 'docs', 'params.md'), 'utf8');
  assert.equal(onDisk, paramsMarkdown(), 'run: npm run build && node dist/coordinator/docs/write-params.js');
});
