import { readFileSync } from 'node:fs';

/** The tool's name and version, from the project's package.json, for `--version` and every report. */
export const TOOL: { name: string; version: string } = {
  name: 'streamgate-loadtest',
  version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version,
};
