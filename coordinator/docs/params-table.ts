// SPDX-License-Identifier: GPL-3.0-or-later
/** docs/params.md, generated from the parameter registry (a test keeps the file current). */
import { PARAMS, cliFlag, type ParamName, type ParamSpec } from '../../proto/params.js';

function range(spec: ParamSpec): string {
  switch (spec.kind) {
    case 'number':
    case 'integer':
      return `${spec.min} – ${spec.max}`;
    case 'boolean':
      return 'true, false';
    case 'choice':
      return spec.choices.join(', ');
  }
}

export function paramsMarkdown(): string {
  const lines = [
    '# Sorting parameters',
    '',
    'Generated from `proto/params.ts` (`node dist/coordinator/docs/write-params.js`); do not edit by hand.',
    'Each parameter is a `spikeshard sort` option; booleans take `--name` / `--no-name`.',
    '',
    '| option | stage | default | unit | range | meaning |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const name of Object.keys(PARAMS) as ParamName[]) {
    const spec: ParamSpec = PARAMS[name];
    lines.push(
      `| \`${cliFlag(name)}\` | ${spec.stage} | ${String(spec.default)} | ${spec.unit} | ${range(spec)} | ${spec.help} |`,
    );
  }
  return lines.join('\n') + '\n';
}
