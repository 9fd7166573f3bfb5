/**
 * `npm run bench`: the local stack's admission rate against the raw rate of the guard's transaction on the same
 * DynamoDB Local, at the same concurrency, in one run; connect latency; memory per idle socket; and the load
 * tester's own ceiling. Loopback only; everything it starts, it stops.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { sleep } from '../../core/retry.js';
import { createDocumentClient, createDynamoStore, type DynamoStreamStore } from '../../core/store/dynamodb/store.js';
import { type EmbeddedDynamoDb, ensureTable, freePort, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { failedHandshakes, type LoadReport, runLoad } from '../loadtest/engine.js';
import { parseLoadOptions } from '../loadtest/options.js';
import { coreBurst, coreStorm } from './core-scenarios.js';
import { burst, closeAll, ghostStorm, rawBurst, refusals } from './scenarios.js';
import { type StoreOperations, storeOperations } from './store-operations.js';

const CONCURRENCY = 50;
const STREAMS = 3000; // 1000 users x 3
const IDLE_SOCKETS = 5001; // 1667 users x 3
const TOOL_SOCKETS = 5000;
/** The burst: 600 handshakes at once, 150 users x 4 against a limit of 3. */
const BURST_USERS = 150;
const BURST_PER_USER = 4;
/** The ghost storm: 100 users x 3 streams lost without `$disconnect`, all reconnecting at once. */
const STORM_USERS = 100;
/** How long the lost sockets have been gone when their players come back */
const STORM_SETTLE_MS = 1000;
const REFUSALS = 200;
/** `--quick` skips the slow phases that do not change with the admission path (memory, the load tester's ceiling). */
const QUICK = process.argv.includes('--quick');

const log = (line: string) => process.stderr.write(`${line}\n`);

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** Waits until these processes are idle (under 5% of a core for half a second): the last phase's tail is done. */
async function quiet(pids: number[], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = pids.map(cpuTicks);
  while (Date.now() < deadline) {
    await sleep(500);
    const now = pids.map(cpuTicks);
    const busiest = Math.max(...now.map((t, i) => t - last[i]!));
    last = now;
    if (busiest <= 2) return; // ticks are 10 ms: 2 ticks in 500 ms is 4% of a core
  }
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

function startChild(
  args: string[],
  env: Record<string, string>,
  readyPattern: RegExp,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready in 60 s:\n${output}`)), 60_000);
    child.stdout!.on('data', (d) => {
      output += d;
      const line = output.split('\n').find((l) => readyPattern.test(l));
      if (line) {
        clearTimeout(timer);
        resolve({ child, line });
      }
    });
    child.stderr!.on('data', (d) => (output += d));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}:\n${output}`)));
  });
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** The guard's own transaction, straight to DynamoDB Local: `count` admits by `workers` in parallel. */
async function rawAdmits(store: DynamoStreamStore, tag: string, count: number, workers: number): Promise<number> {
  const at = Date.now();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < count) {
        const i = next++;
        const outcome = await store.admit(
          // Users interleaved (user i mod count/3), as the load tester opens them: each user gets 3 in all.
          {
            connectionId: `${tag}-${i}`,
            userId: `${tag}-u${i % Math.ceil(count / 3)}`,
            connectedAt: at,
            leaseExpiresAt: at + 300_000,
          },
          { defaultLimit: 3, maxConnectionMs: 7_200_000 },
        );
        if (outcome.kind !== 'admitted') throw new Error(`raw admit ${i} was ${outcome.kind}`);
      }
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

function loadOptions(url: string, args: string[]) {
  return parseLoadOptions(['--url', url, '--duration', '0', '--settle', '120', '--heartbeat', '600', ...args]);
}

/** `users` players with 3 streams each (the limit), `concurrency` handshakes in flight. */
function players(url: string, users: number, concurrency: number, prefix: string) {
  return loadOptions(url, [
    '--users',
    String(users),
    '--streams-per-user',
    '3',
    '--concurrency',
    String(concurrency),
    '--user-prefix',
    prefix,
  ]);
}

const pick = (r: LoadReport) => ({
  admitted: r.admitted,
  heldAtEnd: r.heldAtEnd,
  admittedPerSecond: r.admittedPerSecond.mean,
  connectMs: r.latencyMs.admitted,
  violations: r.violations,
  errors: failedHandshakes(r),
});

/** What every phase stops on the way out, last started first stopped. */
class Cleanups {
  private readonly steps: Array<() => Promise<void>> = [];
  add(step: () => Promise<void>) {
    this.steps.push(step);
  }
  async run() {
    for (const step of this.steps.reverse()) await step().catch(() => undefined);
  }
}

/** The bench's fixtures: DynamoDB Local, the stack under test, and a store of its own on the same table. */
interface Bench {
  dynamo: EmbeddedDynamoDb;
  stack: ChildProcess;
  url: string;
  store: DynamoStreamStore;
  /** tells this run's users and connections apart from earlier runs' on the same table */
  run: string;
  cleanups: Cleanups;
}

/** The local stack as `npm start` runs it, in a process of its own, on free ports. */
async function startStack(
  dynamo: EmbeddedDynamoDb,
  cleanups: Cleanups,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const wsPort = await freePort();
  const { child } = await startChild(
    ['local/start.ts'],
    {
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      WS_PORT: String(wsPort),
      HTTP_PORT: String(await freePort()),
      STREAM_LIMIT: '3',
      ADMIN_TOKEN: 'bench',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      ...env,
    },
    /ready/,
  );
  cleanups.add(() => stopChild(child));
  return { child, url: `ws://127.0.0.1:${wsPort}` };
}

async function setUp(cleanups: Cleanups): Promise<Bench> {
  log('starting DynamoDB Local and the local stack...');
  const dynamo = await startDynamoDbLocal();
  cleanups.add(dynamo.stop);
  await ensureTable(dynamo.endpoint, 'streamgate');
  const { child: stack, url } = await startStack(dynamo, cleanups);
  const store = createDynamoStore(createDocumentClient(dynamo.endpoint), { tableName: 'streamgate' });
  return { dynamo, stack, url, store, run: Date.now().toString(36), cleanups };
}

const untilQuiet = (bench: Bench) => quiet([bench.stack.pid!, bench.dynamo.pid]);

async function warmUp(bench: Bench) {
  // DynamoDB Local's JIT takes some 10,000 transactions to reach its pace (151/s cold, ~390/s warm, seen here).
  log('warming up (the JVM and the stack)...');
  for (let i = 0; i < 4; i++) await rawAdmits(bench.store, `warm${i}-${bench.run}`, 3000, CONCURRENCY);
  await runLoad(players(bench.url, 500, CONCURRENCY, `warm-${bench.run}`));
  await untilQuiet(bench);
}

/** (a) raw, (b) end to end, (a) raw again: the ratio compares (b) with the mean of both raw runs. */
async function measureThroughput(bench: Bench) {
  log(`(a) raw: ${STREAMS} guard transactions at concurrency ${CONCURRENCY}...`);
  const rawBefore = await rawAdmits(bench.store, `raw-${bench.run}`, STREAMS, CONCURRENCY);
  await untilQuiet(bench);

  log(`(b) end to end: ${STREAMS} streams through the gateway at concurrency ${CONCURRENCY}...`);
  const e2e = await runLoad(players(bench.url, STREAMS / 3, CONCURRENCY, `e2e-${bench.run}`));
  await untilQuiet(bench); // the 3000 releases after the run

  log('(a) raw again, to see whether DynamoDB Local drifted during the run...');
  const rawAfter = await rawAdmits(bench.store, `raw2-${bench.run}`, STREAMS, CONCURRENCY);
  await untilQuiet(bench);
  return { rawBefore, rawAfter, raw: (rawBefore + rawAfter) / 2, e2e };
}

/** The raw rate right around a scenario: 600 guard transactions at concurrency 50 before and after it, averaged. */
async function rawAround<T>(
  bench: Bench,
  tag: string,
  scenario: () => Promise<T>,
): Promise<{ raw: number; result: T }> {
  const before = await rawAdmits(bench.store, `${tag}-rawA-${bench.run}`, 600, CONCURRENCY);
  await untilQuiet(bench);
  const result = await scenario();
  await untilQuiet(bench);
  const after = await rawAdmits(bench.store, `${tag}-rawB-${bench.run}`, 600, CONCURRENCY);
  await untilQuiet(bench);
  return { raw: Math.round((before + after) / 2), result };
}

/**
 * The moments that matter: a burst, a player at the limit retrying, a ghost storm. Each is compared with the raw
 * rate measured right before and after it on the same DynamoDB Local (other work on a shared machine moves the raw
 * rate during a run; what counts is the ratio within the same minutes). The burst is also run straight to the store.
 */
async function measureMoments(bench: Bench) {
  log(
    `burst: ${BURST_USERS * BURST_PER_USER} handshakes at once (${BURST_USERS} users x ${BURST_PER_USER}, limit 3), between two raw runs...`,
  );
  const burstRun = await rawAround(bench, 'burst', async () => {
    const r = await burst(bench.url, `burst-${bench.run}`, BURST_USERS, BURST_PER_USER);
    await closeAll(r.results);
    return r;
  });
  log('burst, raw: the same 600 guard transactions straight to DynamoDB Local, all at once...');
  const burstRaw = await rawBurst(bench.store, `rawburst-${bench.run}`, BURST_USERS, BURST_PER_USER);
  await untilQuiet(bench);
  log('burst, through the core alone: the same 600 connects on the store, with API Gateway held in memory...');
  const burstCore = await coreBurst(bench.store, `coreburst-${bench.run}`, BURST_USERS, BURST_PER_USER);
  await untilQuiet(bench);

  log(`refusal: a player holding 3 streams retries ${REFUSALS} times, one after the other...`);
  const refusal = await refusals(bench.url, `refused-${bench.run}`, 3, REFUSALS);
  await untilQuiet(bench);

  log(`ghost storm: ${STORM_USERS} users x 3 streams lost without $disconnect, all reconnecting at once...`);
  // A stack of its own that drops every `$disconnect`, as API Gateway may; the background sweep is off.
  const { child, url } = await startStack(bench.dynamo, bench.cleanups, {
    FAULT_DROP_DISCONNECT: '1',
    SWEEP_INTERVAL_SECONDS: '0',
  });
  const pids = [child.pid!, bench.dynamo.pid];
  const stormOf = async (prefix: string) => {
    const r = await ghostStorm(url, prefix, STORM_USERS, 3, STORM_SETTLE_MS);
    for (const h of r.results) h.socket?.terminate();
    return r;
  };
  // A fresh process runs its first storm cold (JIT, the SDK clients' first sockets): one storm of other users first.
  await stormOf(`stormwarm-${bench.run}`);
  await quiet(pids);
  const storm = await rawAround(bench, 'storm', () => stormOf(`storm-${bench.run}`));
  await stopChild(child);
  await untilQuiet(bench);
  log('ghost storm, through the core alone: the same storm on the store, with API Gateway held in memory...');
  const stormCore = await coreStorm(bench.store, `corestorm-${bench.run}`, {
    users: STORM_USERS,
    perUser: 3,
    settleMs: STORM_SETTLE_MS,
  });
  await untilQuiet(bench);
  return { burstRun, burstRaw, burstCore, refusal, storm, stormCore };
}

/** What each kind of store call costs DynamoDB Local: where each scenario's ceiling comes from. */
async function measureStoreOperations(bench: Bench) {
  log('store operations: each kind of call alone, its rate and the CPU DynamoDB Local spends on it...');
  const operations = await storeOperations(bench.store, `ops-${bench.run}`, {
    cpuMs: () => cpuTicks(bench.dynamo.pid) * 10,
  });
  await untilQuiet(bench);
  return operations;
}

async function measureSequential(bench: Bench): Promise<LoadReport> {
  log('sequential: 300 connects one at a time...');
  return runLoad(players(bench.url, 100, 1, `seq-${bench.run}`));
}

/** Memory per idle socket, on a fresh stack process: the heap earlier phases grew would hide what sockets cost. */
async function measureIdleSockets(bench: Bench) {
  log(`memory: ${IDLE_SOCKETS} idle sockets held on a fresh local stack...`);
  const { child, url } = await startStack(bench.dynamo, bench.cleanups);
  const pids = [child.pid!, bench.dynamo.pid];
  await runLoad(players(url, 100, 50, `idlewarm-${bench.run}`));
  await quiet(pids);
  const beforeKiB = rssKiB(child.pid!);
  let heldKiB = 0;
  const report = await runLoad(players(url, Math.ceil(IDLE_SOCKETS / 3), 100, `idle-${bench.run}`), {
    onSteady: async () => {
      await quiet(pids);
      heldKiB = rssKiB(child.pid!);
    },
  });
  await stopChild(child);
  return { beforeKiB, heldKiB, held: report.heldAtEnd, perSocketKiB: (heldKiB - beforeKiB) / report.heldAtEnd };
}

/** The load tester's own ceiling: as many sockets as it can hold against a server that accepts everything. */
async function measureTool(cleanups: Cleanups) {
  log(`the load tester's own ceiling: ${TOOL_SOCKETS} sockets against an accept-all server...`);
  const { child, line } = await startChild(['tools/bench/accept-all-server.ts'], {}, /listening/);
  cleanups.add(() => stopChild(child));
  const port = Number(line.split(' ')[1]);
  const beforeKiB = rssKiB(process.pid);
  let heldKiB = 0;
  const args = ['--users', String(TOOL_SOCKETS), '--streams-per-user', '1', '--limit', '1', '--concurrency', '500'];
  const report = await runLoad(loadOptions(`ws://127.0.0.1:${port}`, [...args, '--user-prefix', 'tool']), {
    onSteady: async () => {
      heldKiB = rssKiB(process.pid);
    },
  });
  await stopChild(child);
  return { report, beforeKiB, heldKiB };
}

type Throughput = Awaited<ReturnType<typeof measureThroughput>>;
type Idle = Awaited<ReturnType<typeof measureIdleSockets>>;
type Tool = Awaited<ReturnType<typeof measureTool>>;
type Moments = Awaited<ReturnType<typeof measureMoments>>;

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : 0);

function moments(m: Moments) {
  const { burstRun, burstRaw, burstCore, refusal, storm, stormCore } = m;
  const strip = <T extends { results: unknown }>({ results: _, ...rest }: T) => rest;
  return {
    burst: {
      ...strip(burstRun.result),
      raw: burstRun.raw,
      /** goal: at least 0.8 */
      ratio: ratio(burstRun.result.admittedPerSecond, burstRun.raw),
      rawBurst: burstRaw,
      ratioToRawBurst: ratio(burstRun.result.admittedPerSecond, burstRaw.admittedPerSecond),
      /** the same burst through the core alone: the design's store work, no stack */
      core: { ...burstCore, ratio: ratio(burstCore.admittedPerSecond, burstRun.raw) },
      ratioToCore: ratio(burstRun.result.admittedPerSecond, burstCore.admittedPerSecond),
    },
    refusal: { ...refusal, goalP50Ms: 20 },
    ghostStorm: {
      ...strip(storm.result),
      raw: storm.raw,
      /** goal: at least 0.5, with p99 under 2 s */
      ratio: ratio(storm.result.admittedPerSecond, storm.raw),
      core: { ...stormCore, ratio: ratio(stormCore.admittedPerSecond, storm.raw) },
      ratioToCore: ratio(storm.result.admittedPerSecond, stormCore.admittedPerSecond),
    },
  };
}

function results(
  throughput: Throughput,
  sequential: LoadReport,
  m: Moments,
  storeOperations: StoreOperations,
  idle?: Idle,
  tool?: Tool,
) {
  const { raw, rawBefore, rawAfter, e2e } = throughput;
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    concurrency: CONCURRENCY,
    raw: { transactionsPerSecond: Math.round(raw), before: Math.round(rawBefore), after: Math.round(rawAfter) },
    endToEnd: pick(e2e),
    ratio: Math.round((e2e.admittedPerSecond.mean / raw) * 100) / 100,
    sequentialConnectMs: sequential.latencyMs.admitted,
    ...moments(m),
    storeOperations,
    idleSockets: idle && {
      held: idle.held,
      stackRssBeforeMiB: Math.round(idle.beforeKiB / 1024),
      stackRssHeldMiB: Math.round(idle.heldKiB / 1024),
      perSocketKiB: Math.round(idle.perSocketKiB * 10) / 10,
    },
    tool: tool && {
      sockets: tool.report.heldAtEnd,
      handshakesPerSecond: tool.report.admittedPerSecond.mean,
      connectMs: tool.report.latencyMs.admitted,
      rssHeldMiB: Math.round(tool.heldKiB / 1024),
      rssGrowthMiB: Math.round((tool.heldKiB - tool.beforeKiB) / 1024),
      errors: failedHandshakes(tool.report),
    },
  };
}

type Results = ReturnType<typeof results>;

/** The results file under tools/bench/results/, named by the run's date; returns its path. */
function writeResults(r: Results): string {
  mkdirSync('tools/bench/results', { recursive: true });
  const file = `tools/bench/results/${r.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

/** The human report on stderr. */
function printResults(r: Results, file: string) {
  const l = (x: { p50: number; p99: number }) => `p50 ${x.p50} ms, p99 ${x.p99} ms`;
  log('');
  log(`streamgate bench (${r.machine.cpus} cores, ${r.machine.node})`);
  log(
    `  raw guard transactions   ${r.raw.transactionsPerSecond}/s at concurrency ${CONCURRENCY} (${r.raw.before}/s before, ${r.raw.after}/s after)`,
  );
  log(
    `  end-to-end admissions    ${r.endToEnd.admittedPerSecond}/s at concurrency ${CONCURRENCY} (${r.endToEnd.admitted} admitted, ${r.endToEnd.violations} violations)`,
  );
  log(`  ratio end-to-end / raw   ${r.ratio}`);
  log(`  connect under load       ${l(r.endToEnd.connectMs)}`);
  log(`  connect one at a time    ${l(r.sequentialConnectMs)} (n=${r.sequentialConnectMs.count})`);
  const b = r.burst;
  log(
    `  burst                    ${b.admittedPerSecond} admitted/s (${b.admitted} admitted, ${b.refused} refused, ${b.errors} errors); admitted ${l(b.admittedMs)}; refused ${l(b.refusedMs)}`,
  );
  log(
    `  ratio burst / raw        ${b.ratio} (goal 0.8; raw around it ${b.raw}/s); to the same burst straight to the store (${b.rawBurst.admittedPerSecond}/s): ${b.ratioToRawBurst}`,
  );
  log(
    `  burst, core alone        ${b.core.admittedPerSecond} admitted/s (${b.core.admitted} admitted, ${b.core.closedAfterAdmission} of them closed after, ${b.core.refused} refused, ${b.core.errors} errors): ${b.core.ratio} of raw, the design's ceiling here; the stack reaches ${b.ratioToCore} of it`,
  );
  log(
    `  refusal at the limit     ${l(r.refusal.refusedMs)} over ${r.refusal.tries} tries (goal p50 < 20 ms); answers ${JSON.stringify(r.refusal.statuses)}`,
  );
  const g = r.ghostStorm;
  log(
    `  ghost storm              ${g.admittedPerSecond} re-admitted/s (${g.admitted} of ${g.ghosts}, ${g.refused} refused, ${g.errors} errors); ${l(g.admittedMs)}`,
  );
  log(`  ratio ghost storm / raw  ${g.ratio} (goal 0.5, p99 < 2000 ms; raw around it ${g.raw}/s)`);
  log(
    `  ghost storm, core alone  ${g.core.admittedPerSecond} re-admitted/s (${g.core.admitted} admitted, ${g.core.closedAfterAdmission} of them closed after, ${g.core.refused} refused, ${g.core.errors} errors): ${g.core.ratio} of raw, the design's ceiling here; the stack reaches ${g.ratioToCore} of it`,
  );
  const o = r.storeOperations;
  const op = (x: { perSecond: number; dynamoCpuMs: number }) => `${x.perSecond}/s (${x.dynamoCpuMs} ms)`;
  log(
    `  store calls, each alone  guard transaction ${op(o.guardTransaction)}, refused ${op(o.refusedTransaction)}, GetItem ${op(o.getItem)}, BatchGetItem of 3 ${op(o.batchGetOfThree)} (rate at concurrency 50, DynamoDB Local CPU per call)`,
  );
  log(
    `  guard transaction at 8 / 50 / 256 in flight: ${o.guardTransactionAt8.perSecond} / ${o.guardTransaction.perSecond} / ${o.guardTransactionAt256.perSecond} per second`,
  );
  if (r.idleSockets)
    log(
      `  idle sockets             ${r.idleSockets.held} held, ${r.idleSockets.perSocketKiB} KiB each in the stack (RSS ${r.idleSockets.stackRssBeforeMiB} -> ${r.idleSockets.stackRssHeldMiB} MiB)`,
    );
  if (r.tool)
    log(
      `  load tester ceiling      ${r.tool.handshakesPerSecond} handshakes/s, ${r.tool.sockets} sockets held, RSS ${r.tool.rssHeldMiB} MiB, ${r.tool.errors} errors`,
    );
  log(`  written to ${file}`);
}

async function main() {
  const cleanups = new Cleanups();
  process.on('SIGINT', () => void cleanups.run().finally(() => process.exit(130)));
  try {
    const bench = await setUp(cleanups);
    await warmUp(bench);
    const throughput = await measureThroughput(bench);
    const sequential = await measureSequential(bench);
    const m = await measureMoments(bench);
    const operations = await measureStoreOperations(bench);
    const idle = QUICK ? undefined : await measureIdleSockets(bench);
    const tool = QUICK ? undefined : await measureTool(cleanups);
    const r = results(throughput, sequential, m, operations, idle, tool);
    printResults(r, writeResults(r));
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    await cleanups.run();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
