// SPDX-License-Identifier: GPL-3.0-or-later
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../native/lib/index.js';
import { paramsMarkdown } from './params-table.js';

writeFileSync(path.join(packageRoot(), 'docs', 'params.md'), paramsMarkdown());
