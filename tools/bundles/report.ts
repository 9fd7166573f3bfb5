/**
 * `npm run bundles`: each Lambda handler's bundle as the CDK app builds it (infra/handler-function.ts: the app is
 * synthesized here, into a temporary directory), its size, what it is made of, and how long its module takes to load
 * (the cold start's init phase, minus the runtime's own start), measured on this machine in fresh Node processes with
 * `--enable-source-maps`, as the functions run in Lambda. Human report on stderr, JSON on stdout.
 *
 *   npm run bundles                     synthesize, then measure
 *   npm run bundles -- --cdk-out DIR    measure what `npx cdk synth` left in DIR instead
 *   npm run bundles -- --runs 15        more runs per handler (the median is reported; default 9)
 *   npm run bundles -- --top 12         the largest contributors per handler (default 8; 0: none)
 *
 * The goals (issue 11): at most 250 KB and 50 ms per handler. Init figures are wall-clock medians; on a machine
 * whose load is above its core count they are inflated, so the report prints the load and an empty module's figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const GOALS = { bytes: 250 * 1024, initMs: 50 } as const;

const { values: args } = parseArgs({
  options: {
    'cdk-out': { type: 'string' },
    runs: { type: 'string', default: '9' },
    top: { type: 'string', default: '8' },
  },
});
const RUNS = Number(args.runs);
const TOP = Number(args.top);

interface LambdaResource {
  Type: string;
  Metadata?: Record<string, string>;
  Properties: { Runtime?: string; Environment?: { Variables?: Record<string, unknown> } };
}

/** Made-up values, in the deployed shape, for the variables the template sets with a CloudFormation reference. */
const CONCRETE: Record<string, string> = {
  TABLE_NAME: 'streamgate-Streams-TABLE',
  MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/live',
  JWT_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Bundles',
  JWT_AUDIENCE: 'bundles-player-client',
  JWT_JWKS_URL: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Bundles/.well-known/jwks.json',
};

/** What a handler needs at import: the template's environment, with CloudFormation references made concrete. */
function concreteEnv(variables: Record<string, unknown> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value === 'string') env[name] = value;
    else if (CONCRETE[name] !== undefined) env[name] = CONCRETE[name];
    else throw new Error(`${name} is a reference the report has no value for: add one to CONCRETE`);
  }
  return env;
}

interface InitTime {
  /** wall clock from the first line of the import to its end: what a cold start waits for */
  medianMs: number;
  /** CPU time of the process over the same span (every thread): less sensitive to a busy machine */
  cpuMedianMs: number;
  error?: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10;
};

/** The import of `file` in RUNS fresh processes; the medians. */
function initTime(file: string, env: Record<string, string>): InitTime {
  const wall: number[] = [];
  const cpu: number[] = [];
  const script = [
    'const c = process.cpuUsage(); const t = performance.now();',
    `await import(${JSON.stringify(`file://${file}`)});`,
    'const w = performance.now() - t; const u = process.cpuUsage(c);',
    'process.stdout.write(JSON.stringify([w, (u.user + u.system) / 1000]));',
  ].join(' ');
  for (let i = 0; i < RUNS; i++) {
    // `--enable-source-maps` as in Lambda (the functions' NODE_OPTIONS): Node reads the map while loading the module.
    const run = spawnSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      // Node 22 in Lambda; on an older local Node the SDK's upgrade notice would only add noise.
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'eu-west-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...env,
      },
      encoding: 'utf8',
    });
    if (run.status !== 0) {
      const error = run.stderr.trim().split('\n').slice(-3).join(' ');
      return { medianMs: Number.NaN, cpuMedianMs: Number.NaN, error };
    }
    const [w, c] = JSON.parse(run.stdout) as [number, number];
    wall.push(w);
    cpu.push(c);
  }
  return { medianMs: median(wall), cpuMedianMs: median(cpu) };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Bytes of the bundle by where they came from, read from its source map: each mapped segment of generated code is
 * charged to its source file, then grouped by package (or by the repository's own folder).
 */
function composition(file: string, code: string, map: { sources: string[]; mappings: string }): Map<string, number> {
  const lines = code.split('\n');
  const bySource = new Map<number, number>();
  let source = 0;
  const mappingLines = map.mappings.split(';');
  for (let l = 0; l < mappingLines.length; l++) {
    const segments: Array<[number, number]> = [];
    let column = 0;
    for (const segment of mappingLines[l]!.split(',')) {
      if (!segment) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0]!;
      if (fields.length >= 4) {
        source += fields[1]!;
        segments.push([column, source]);
      } else segments.push([column, -1]);
    }
    const length = lines[l]?.length ?? 0;
    for (let s = 0; s < segments.length; s++) {
      const [start, src] = segments[s]!;
      const end = s + 1 < segments.length ? segments[s + 1]![0] : length;
      if (src >= 0) bySource.set(src, (bySource.get(src) ?? 0) + end - start);
    }
  }
  const byGroup = new Map<string, number>();
  for (const [src, bytes] of bySource) {
    const path = resolve(dirname(file), map.sources[src] ?? '?');
    const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
    const group = pkg ?? `${relative(PROJECT_ROOT, dirname(path))}/`;
    byGroup.set(group, (byGroup.get(group) ?? 0) + bytes);
  }
  return byGroup;
}

/** Synthesizes the app as `cdk synth` does (context from cdk.json, cdk-nag included) and returns its directory. */
async function synthesize(): Promise<{ outdir: string; cleanup: () => void }> {
  const { buildApp } = await import('../../infra/build.js');
  const outdir = mkdtempSync(join(tmpdir(), 'streamgate-bundles-'));
  const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
  // Asset metadata names each function's bundle directory (the CLI turns it on too).
  const { app } = buildApp({ outdir, context: { ...context, 'aws:cdk:enable-asset-metadata': true } });
  app.synth();
  return { outdir, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

const started = performance.now();
const { outdir, cleanup } = args['cdk-out'] ? { outdir: args['cdk-out'], cleanup: () => {} } : await synthesize();
const synthSeconds = Math.round((performance.now() - started) / 100) / 10;

try {
  const template = JSON.parse(readFileSync(join(outdir, 'streamgate.template.json'), 'utf8')) as {
    Resources: Record<string, LambdaResource>;
  };
  const handlers = Object.entries(template.Resources).filter(
    ([, r]) =>
      r.Type === 'AWS::Lambda::Function' &&
      r.Properties.Runtime?.startsWith('nodejs') &&
      r.Metadata?.['aws:asset:path'] !== undefined,
  );
  const results = handlers.map(([logicalId, r]) => {
    const dir = join(outdir, r.Metadata!['aws:asset:path']!);
    const file = join(dir, 'index.mjs');
    const code = readFileSync(file, 'utf8');
    const bytes = statSync(file).size;
    const gzipBytes = gzipSync(code).length;
    const mapBytes = statSync(`${file}.map`).size;
    const parts = [...composition(file, code, JSON.parse(readFileSync(`${file}.map`, 'utf8'))).entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([group, groupBytes]) => ({ group, bytes: groupBytes }));
    const env = { ...concreteEnv(r.Properties.Environment?.Variables), AUTH_MODE: process.env.AUTH_MODE ?? 'jwt' };
    const init = initTime(file, env);
    const pass = bytes <= GOALS.bytes && init.medianMs <= GOALS.initMs;
    return { function: logicalId.replace(/[0-9A-F]{8}$/, ''), bytes, gzipBytes, mapBytes, init, pass, parts };
  });

  // The same measurement of an empty module: what this machine charges for any import right now (load, disk).
  const emptyModule = join(outdir, 'empty-module.mjs');
  writeFileSync(emptyModule, 'export {};\n');
  const baseline = initTime(emptyModule, {});

  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  const load = loadavg()[0]!;
  const cores = availableParallelism();
  console.error(`handler       size (goal ${kb(GOALS.bytes)})   init, median of ${RUNS} (goal ${GOALS.initMs} ms)`);
  for (const r of results) {
    const size = `${kb(r.bytes).padStart(9)} ${r.bytes <= GOALS.bytes ? 'ok  ' : 'OVER'}`;
    const init = r.init.error
      ? `init failed: ${r.init.error}`
      : `${`${r.init.medianMs} ms`.padStart(9)} ${r.init.medianMs <= GOALS.initMs ? 'ok  ' : 'OVER'} (cpu ${r.init.cpuMedianMs} ms)`;
    console.error(
      `${r.function.padEnd(12)} ${size} (${kb(r.gzipBytes)} gzip, map ${kb(r.mapBytes)})  ${init}  ${r.pass ? 'PASS' : 'FAIL'}`,
    );
    if (TOP > 0) {
      const top = r.parts.slice(0, TOP).map((p) => `${p.group} ${kb(p.bytes)}`);
      console.error(`             ${top.join(', ')}`);
    }
  }
  console.error(
    `empty module: init ${baseline.medianMs} ms (cpu ${baseline.cpuMedianMs} ms): this machine's floor right now`,
  );
  console.error(
    `node ${process.version}; load ${load.toFixed(1)} on ${cores} cores${load > cores ? ' (busy: init figures are inflated; compare cpu and the empty module)' : ''}; synth ${synthSeconds} s`,
  );
  console.error(
    `${results.filter((r) => r.pass).length} of ${results.length} handlers within ${kb(GOALS.bytes)} and ${GOALS.initMs} ms`,
  );
  process.stdout.write(
    `${JSON.stringify({ node: process.version, runs: RUNS, loadAverage: load, cores, goals: GOALS, baseline, functions: results })}\n`,
  );
} finally {
  cleanup();
}
