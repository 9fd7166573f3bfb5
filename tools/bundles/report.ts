/**
 * `npm run bundles`: the size of each Lambda bundle `cdk synth` made, and how long its module takes to load (the
 * cold start's init phase, minus the runtime's own start), measured on this machine in fresh Node processes.
 * Run `npx cdk synth` first. Human report on stderr, JSON on stdout.
 *
 * The bundles import the AWS SDK from the Lambda runtime; here it resolves from node_modules, so its load time is in
 * the figure, as it is in Lambda.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';

const RUNS = 7;
const outdir = process.argv[2] ?? 'cdk.out';

interface LambdaResource {
  Type: string;
  Metadata?: Record<string, string>;
  Properties: { Environment?: { Variables?: Record<string, unknown> } };
}

/** What a handler needs at import: the template's environment, with CloudFormation references made concrete. */
function concreteEnv(variables: Record<string, unknown> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value === 'string') env[name] = value;
    else if (name === 'MANAGEMENT_ENDPOINT') env[name] = 'https://abc123.execute-api.eu-west-1.amazonaws.com/live';
    else env[name] = 'streamgate-Streams-TABLE';
  }
  return env;
}

/** Milliseconds from the first line of the import to its end, in a fresh process; the median of RUNS. */
function initTime(file: string, env: Record<string, string>): { medianMs: number; error?: string } {
  const times: number[] = [];
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); process.stdout.write(String(performance.now() - t));`;
  for (let i = 0; i < RUNS; i++) {
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
    if (run.status !== 0) return { medianMs: Number.NaN, error: run.stderr.trim().split('\n').slice(-3).join(' ') };
    times.push(Number(run.stdout));
  }
  times.sort((a, b) => a - b);
  return { medianMs: Math.round(times[Math.floor(RUNS / 2)]! * 10) / 10 };
}

const template = JSON.parse(readFileSync(`${outdir}/streamgate.template.json`, 'utf8')) as {
  Resources: Record<string, LambdaResource>;
};
const results = Object.entries(template.Resources)
  .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'])
  .map(([logicalId, r]) => {
    const file = `${process.cwd()}/${outdir}/${r.Metadata!['aws:asset:path']}/index.mjs`;
    const bytes = statSync(file).size;
    const gzipBytes = gzipSync(readFileSync(file)).length;
    const env = { ...concreteEnv(r.Properties.Environment?.Variables), AUTH_MODE: process.env.AUTH_MODE ?? 'jwt' };
    return { function: logicalId.replace(/[0-9A-F]{8}$/, ''), bytes, gzipBytes, init: initTime(file, env) };
  });

// The same measurement of an empty module: what this machine charges for any import right now (load, disk).
const emptyModule = `${process.cwd()}/${outdir}/empty-module.mjs`;
writeFileSync(emptyModule, 'export {};\n');
const baseline = initTime(emptyModule, {});

for (const r of results) {
  const init = r.init.error ? `init failed: ${r.init.error}` : `init ${r.init.medianMs} ms (median of ${RUNS})`;
  console.error(
    `${r.function.padEnd(12)} ${(r.bytes / 1024).toFixed(1).padStart(7)} KB (${(r.gzipBytes / 1024).toFixed(1)} KB gzip)  ${init}`,
  );
}
console.error(
  `empty module: init ${baseline.medianMs} ms (this machine's floor right now; load ${loadavg()[0]!.toFixed(1)})`,
);
console.error(`node ${process.version}; goals: <= 250 KB and <= 50 ms each`);
process.stdout.write(
  `${JSON.stringify({ node: process.version, runs: RUNS, loadAverage: loadavg()[0], baselineMs: baseline.medianMs, functions: results })}\n`,
);
