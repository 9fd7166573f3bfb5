/**
 * `npm run bench`: the local stack's admission rate against the raw rate of the guard's transaction on the same
 * DynamoDB Local, at the same concurrency, in one run; connect latency; memory per idle socket; and the load
 * tester's own ceiling. Loopback only; everything it starts, it stops.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DEFAULT_OPENING_WINDOW_MS } from '../../core/lifecycle.js';
import { timesLimited } from '../../core/limiter.js';
import { sleep } from '../../core/retry.js';
import { createDocumentClient, createDynamoStore, type DynamoStreamStore } from '../../core/store/dynamodb/store.js';
import { type EmbeddedDynamoDb, ensureTable, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { freePort, spawnUntilReady, stopChild } from '../../local/process.js';
import { type LoadReport, runLoad } from '../loadtest/engine.js';
import { parseLoadOptions } from '../loadtest/options.js';
import { coreBurst, coreStorm } from './core-scenarios.js';
import { caughtUp, followEvents, lagSummary } from './events-lag.js';
import { printResults, results, writeResults } from './report.js';
import { burst, closeAll, deadStreams, ghostStorm, rawBurst, refusals } from './scenarios.js';
import { storeOperations } from './store-operations.js';

const CONCURRENCY = 50;
const STREAMS = 3000; // 1000 users x 3
const IDLE_SOCKETS = 5001; // 1667 users x 3
const TOOL_SOCKETS = 5000;
/** The burst: 600 handshakes at once, 150 users x 4 against a limit of 3. */
const BURST_USERS = 150;
const BURST_PER_USER = 4;
/** The ghost storm: 100 users x 3 streams lost without `$disconnect`, all reconnecting at once. */
const STORM_USERS = 100;
/**
 * The storm's streams play past their opening window before they are lost (streams that had been playing: a ghost
 * younger than its window may still be opening, and a reconnect waits it out), and their players come back 1 s later.
 */
const STORM_TIMING = { playedMs: DEFAULT_OPENING_WINDOW_MS + 1_000, settleMs: 1_000 };
/** The dead-stream bound: users each holding 3 streams, one of which dies without `$disconnect`. */
const DEAD_STREAM_USERS = 50;
const REFUSALS = 200;
/** `--quick` skips the slow phases that do not change with the admission path (memory, the load tester's ceiling). */
const QUICK = process.argv.includes('--quick');
/** `--events-only`: the events phase alone (the processor's lag and the steady rate with and without it). */
const EVENTS_ONLY = process.argv.includes('--events-only');

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

/** The guard's own transaction, straight to DynamoDB Local: `count` admits by `workers` in parallel. */
async function rawAdmits(store: DynamoStreamStore, tag: string, count: number, workers: number): Promise<number> {
  const at = Date.now();
  const t0 = performance.now();
  await timesLimited(count, workers, async (i) => {
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
  });
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
): Promise<{ child: ChildProcess; url: string; httpUrl: string }> {
  const wsPort = await freePort();
  const httpPort = await freePort();
  const { child } = await spawnUntilReady({
    args: ['local/start.ts'],
    env: {
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      WS_PORT: String(wsPort),
      HTTP_PORT: String(httpPort),
      STREAM_LIMIT: '3',
      ADMIN_TOKEN: 'bench',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      ...env,
    },
    ready: /ready/,
  });
  cleanups.add(() => stopChild(child));
  return { child, url: `ws://127.0.0.1:${wsPort}`, httpUrl: `http://127.0.0.1:${httpPort}` };
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
export async function measureMoments(bench: Bench) {
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
    const r = await ghostStorm(url, prefix, STORM_USERS, 3, STORM_TIMING);
    for (const h of r.results) h.socket?.terminate();
    return r;
  };
  // A fresh process runs its first storm cold (JIT, the SDK clients' first sockets): one storm of other users first.
  await stormOf(`stormwarm-${bench.run}`);
  await quiet(pids);
  const storm = await rawAround(bench, 'storm', () => stormOf(`storm-${bench.run}`));
  log(
    `dead-stream bound: ${DEAD_STREAM_USERS} users at their limit, one stream each dies and its player opens another...`,
  );
  // Streams that had played past their window, and streams a second old (still inside it).
  const deadOld = await deadStreams(url, `deadold-${bench.run}`, DEAD_STREAM_USERS, {
    limit: 3,
    ageMs: DEFAULT_OPENING_WINDOW_MS + 1_000,
  });
  await quiet(pids);
  const deadYoung = await deadStreams(url, `deadyoung-${bench.run}`, DEAD_STREAM_USERS, { limit: 3, ageMs: 1_000 });
  await stopChild(child);
  await untilQuiet(bench);
  log('ghost storm, through the core alone: the same storm on the store, with API Gateway held in memory...');
  const stormCore = await coreStorm(bench.store, `corestorm-${bench.run}`, {
    users: STORM_USERS,
    perUser: 3,
    ...STORM_TIMING,
  });
  await untilQuiet(bench);
  return { burstRun, burstRaw, burstCore, refusal, storm, stormCore, deadStreams: { old: deadOld, young: deadYoung } };
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
  const { child, line } = await spawnUntilReady({ args: ['tools/bench/accept-all-server.ts'], ready: /listening/ });
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

/**
 * The events processor under the steady load (the last phase: the stacks it starts are alone on the table, since a
 * processor beside any stack would read every stack's writes). The same steady load on a stack with the processor
 * and on one without, each between raw runs; and, with it on, how long each admission takes to reach a follower of
 * `GET /events`.
 */
export async function measureEvents(bench: Bench) {
  await stopChild(bench.stack);
  const users = STREAMS / 3;
  let catchUpMs = 0;
  const steady = async (processor: 'on' | 'off', tag: string = processor) => {
    log(
      `events: ${STREAMS} streams at concurrency ${CONCURRENCY} on a stack with the events processor ${processor}...`,
    );
    const stack = await startStack(bench.dynamo, bench.cleanups, { EVENTS_PROCESSOR: processor });
    const prefix = `ev${tag}-${bench.run}`;
    const follower = processor === 'on' ? await followEvents(stack.httpUrl, 'bench', prefix) : undefined;
    // The table's stream holds every earlier phase's changes, read from its start by a processor without a checkpoint:
    // the lag is measured once it has caught up (a marker stream's admission came through), not on that backlog.
    if (follower) catchUpMs = await caughtUp(stack.url, follower, `${prefix}-marker`);
    const { raw, result } = await rawAround({ ...bench, stack: stack.child }, `ev${tag}`, () =>
      runLoad(players(stack.url, users, CONCURRENCY, prefix)),
    );
    const lags = follower?.stop() ?? [];
    await stopChild(stack.child);
    return { raw, admittedPerSecond: Math.round(result.admittedPerSecond.mean), lag: lagSummary(lags) };
  };
  // Off, on, off again: DynamoDB Local's rate drifts within a run (its table and stream grow), so the processor's run
  // is compared with runs on both sides of it rather than with one before it.
  const off = await steady('off');
  const on = await steady('on');
  const offAfter = await steady('off', 'off2');
  const without = (off.admittedPerSecond + offAfter.admittedPerSecond) / 2;
  /** the steady rate with the processor beside the stack, to the mean of the runs without it on either side */
  const onToOff = without > 0 ? Math.round((on.admittedPerSecond / without) * 100) / 100 : 0;
  return { on: { ...on, catchUpMs }, off, offAfter, withoutPerSecond: without, onToOff };
}

async function main() {
  const cleanups = new Cleanups();
  process.on('SIGINT', () => void cleanups.run().finally(() => process.exit(130)));
  try {
    const bench = await setUp(cleanups);
    await warmUp(bench);
    if (EVENTS_ONLY) {
      const events = await measureEvents(bench);
      log(
        `events: ${events.on.admittedPerSecond}/s with the processor, ${events.withoutPerSecond}/s without (mean of before and after): ${events.onToOff}`,
      );
      process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), events })}\n`);
      return;
    }
    const throughput = await measureThroughput(bench);
    const sequential = await measureSequential(bench);
    const m = await measureMoments(bench);
    const operations = await measureStoreOperations(bench);
    const idle = QUICK ? undefined : await measureIdleSockets(bench);
    const tool = QUICK ? undefined : await measureTool(cleanups);
    const events = await measureEvents(bench);
    const measured = { throughput, sequential, moments: m, storeOperations: operations, idle, tool, events };
    const r = results(CONCURRENCY, measured);
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
