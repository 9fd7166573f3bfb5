/**
 * The docs (README.md and docs/*.md) against the code, both ways: every environment variable, route, npm script and
 * load-tester flag the docs name exists in the code, and every setting the code reads (the local stack's
 * environment, the handlers' and the authorizer's, the CDK context keys), every route, every npm script and every
 * load-tester flag is documented. A docs page that drifts from the code fails here, in the same change.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV } from '../../core/config.js';
import { IdentityEnvSchema } from '../../core/identity/config.js';
import { CONTEXT_KEYS } from '../../infra/settings.js';
import { PLAYER_ROUTES, SUPPORT_ROUTES } from '../../infra/stack.js';
import { EVENTS_PATH } from '../../local/events/hub.js';
import { SETTINGS_ENV } from '../../local/settings.js';
import { LOADTEST_FLAGS } from '../../tools/loadtest/options.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((p) =>
  p.endsWith('.md'),
);
const docs = new Map(pages.map((p) => [p, read(p)]));
const allDocs = [...docs.values()].join('\n');

/** Every TypeScript and JavaScript source of the repository (not node_modules), and the CI script. */
function sources(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', '.git', 'cdk.out', 'test-output', '.data'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.(ts|js)$/.test(entry.name)) out.push(readFileSync(path, 'utf8'));
  }
  return out;
}
const code = [...sources(), read('.ci/run')].join('\n');

const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
const identityEnv = Object.keys(IdentityEnvSchema.shape);
const localEnv = Object.values(SETTINGS_ENV) as string[];

/** Variables the docs name that belong to Node or the CDK CLI, not to this code: none of ours reads them. */
const NOT_OURS = new Set(['NODE_EXTRA_CA_CERTS', 'CDK_DISABLE_VERSION_CHECK']);

/** Routes as the docs write them: `METHOD /path/{param}`. */
const codeRoutes = new Set([
  'GET /health',
  `GET ${EVENTS_PATH}`,
  ...[...SUPPORT_ROUTES, ...PLAYER_ROUTES].flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)),
  // API Gateway's @connections API, which the local emulator serves (local/gateway/management-api.ts)
  'POST /@connections/{id}',
  'GET /@connections/{id}',
  'DELETE /@connections/{id}',
]);

/** Environment variables the docs name: set in a command (`NAME=value`) or listed in a table of variables. */
function variablesNamed(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<![\w$])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=/g)) names.add(m[1]!);
  let inVariableTable = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      inVariableTable = false;
      continue;
    }
    const first = line.split('|')[1]!.trim();
    if (/^variable\b/.test(first)) inVariableTable = true;
    else if (inVariableTable) for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]!);
  }
  return names;
}

describe('When a reader follows the docs', () => {
  it('finds every environment variable they name read by the code', () => {
    // Prepare
    const ours = new Set([...localEnv, ...CONFIG_ENV, ...identityEnv]);

    // Act
    const unknown = [...docs].flatMap(([page, text]) =>
      [...variablesNamed(text)]
        .filter((name) => !ours.has(name) && !NOT_OURS.has(name))
        // A variable of a tool or test (MODEL_RUNS, CHROMIUM_PATH...) exists when the code reads it.
        .filter((name) => !new RegExp(`process\\.env\\.${name}\\b|['"\`]${name}['"\`]`).test(code))
        .map((name) => `${page}: ${name}`),
    );

    // Assess
    expect(unknown).toEqual([]);
  });

  it('finds every route they name served', () => {
    const unknown = [...docs].flatMap(([page, text]) =>
      [...text.matchAll(/`(GET|PUT|POST|DELETE|PATCH) (\/[^`\s]*)`/g)]
        .map((m) => `${m[1]} ${m[2]}`)
        .filter((route) => !codeRoutes.has(route))
        .map((route) => `${page}: ${route}`),
    );

    expect(unknown).toEqual([]);
  });

  it('finds every npm script they name in package.json', () => {
    const unknown = [...docs].flatMap(([page, text]) =>
      [...text.matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)]
        .map((m) => m[1]!)
        .filter((name) => !scripts.includes(name))
        .map((name) => `${page}: npm run ${name}`),
    );

    expect(unknown).toEqual([]);
  });

  it('finds every load-tester flag they name taken by the command line', () => {
    const text = docs.get('docs/loadtest.md')!;
    const named = new Set([...text.matchAll(/`(--[a-z][a-z-]*)/g)].map((m) => m[1]!));
    const unknown = [...named].filter((flag) => !LOADTEST_FLAGS.includes(flag));

    expect(unknown).toEqual([]);
  });
});

describe('When the code gains a setting, route, script or flag', () => {
  const undocumented = (names: readonly string[], shown: (name: string) => string) =>
    names.filter((name) => !allDocs.includes(shown(name)));

  it("documents every variable of the local stack's environment (local/settings.ts)", () => {
    expect(undocumented(localEnv, (n) => `\`${n}\``)).toEqual([]);
  });

  it("documents every variable of the handlers' and the authorizer's environment (core/config.ts, identity)", () => {
    expect(undocumented([...CONFIG_ENV, ...identityEnv], (n) => `\`${n}\``)).toEqual([]);
  });

  it('documents every CDK context key (infra/settings.ts) in the deploy guide', () => {
    const guide = docs.get('docs/deploy.md')!;
    expect(CONTEXT_KEYS.filter((key) => !guide.includes(`\`${key}\``))).toEqual([]);
  });

  it('documents every support and player route', () => {
    expect(undocumented([...codeRoutes], (route) => `\`${route}`)).toEqual([]);
  });

  it('documents every npm script', () => {
    const shown = (name: string) => (name === 'start' || name === 'test' ? `npm ${name}` : `npm run ${name}`);
    expect(undocumented(scripts, shown)).toEqual([]);
  });

  it("documents every load-tester flag in the load tester's page", () => {
    const text = docs.get('docs/loadtest.md')!;
    // `--version` / `--help` share a row; `-h` is `--help`'s short form.
    expect(LOADTEST_FLAGS.filter((flag) => !text.includes(`\`${flag}`))).toEqual([]);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped but `-` and `_`, spaces to `-`. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replaceAll(' ', '-');
const anchorsOf = (text: string) => new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

describe('When a newcomer opens the README', () => {
  it('reads at most 200 lines, and every page it links to exists', () => {
    const readme = docs.get('README.md')!;
    const linked = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]!);

    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    expect(linked.filter((path) => !docs.has(path))).toEqual([]);
  });

  it('finds every link between the docs pages pointing at a page that exists', () => {
    const broken = [...docs].flatMap(([page, text]) =>
      [...text.matchAll(/\]\(([\w./-]+\.md)(?:#[^)]*)?\)/g)]
        .map((m) => join(page.startsWith('docs/') ? 'docs' : '.', m[1]!))
        .filter((target) => !docs.has(target))
        .map((target) => `${page} -> ${target}`),
    );

    expect(broken).toEqual([]);
  });

  it('finds every heading a link points at', () => {
    const broken = [...docs].flatMap(([page, text]) =>
      [...text.matchAll(/\]\(([\w./-]*\.md)?#([^)]+)\)/g)].flatMap((m) => {
        const target = m[1] ? join(page.startsWith('docs/') ? 'docs' : '.', m[1]) : page;
        const targetText = docs.get(target);
        return targetText && !anchorsOf(targetText).has(m[2]!) ? [`${page} -> ${target}#${m[2]}`] : [];
      }),
    );

    expect(broken).toEqual([]);
  });
});
