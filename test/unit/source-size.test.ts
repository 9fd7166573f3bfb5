/**
 * No source file over 400 lines, tests and pages included: past that a file holds more than one concern, and a
 * newcomer cannot read it in one sitting. Split it by concern (as the store contract and the infra tests are).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const MAX_LINES = 400;
const SOURCE = /\.(ts|js|mjs|css|html|md|sh)$|^\.ci\/run$/;

it(`keeps every source file of the repository at ${MAX_LINES} lines or fewer`, () => {
  // Prepare: the files git tracks or would track (new ones too), as the repository holds them
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => SOURCE.test(f));

  // Act
  const long = files
    .map((f) => {
      try {
        return { f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1 };
      } catch {
        return { f, lines: 0 }; // deleted in the work tree, not yet in git
      }
    })
    .filter(({ lines }) => lines > MAX_LINES)
    .map(({ f, lines }) => `${f}: ${lines} lines`);

  // Assess
  expect(files.length).toBeGreaterThan(100);
  expect(long).toEqual([]);
});
