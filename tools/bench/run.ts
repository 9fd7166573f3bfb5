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
import { createDocumentClient, StreamStore } from '../../core/store/store.js';
import { ensureTable, freePort, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { failedHandshakes, type LoadReport, runLoad } from '../loadtest/engine.js';
import { parseLoadOptions } from '../loadtest/options.js';

const CONCURRENCY = 50;
const STREAMS = 3000; // 1000 users x 3
const IDLE_SOCKETS = 5001; // 1667 users x 3
const TOOL_SOCKETS = 5000;

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
async function rawAdmits(store: StreamStore, tag: string, count: number, workers: number): Promise<number> {
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

const pick = (r: LoadReport) => ({
  admitted: r.admitted,
  heldAtEnd: r.heldAtEnd,
  admittedPerSecond: r.admittedPerSecond.mean,
  connectMs: r.latencyMs.admitted,
  violations: r.violations,
  errors: failedHandshakes(r),
});

async function main() {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    log('starting DynamoDB Local and the local stack...');
    const dynamo = await startDynamoDbLocal();
    cleanups.push(dynamo.stop);
    await ensureTable(dynamo.endpoint, 'streamgate');
    const wsPort = await freePort();
    const { child: stack } = await startChild(
      ['local/start.ts'],
      {
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        WS_PORT: String(wsPort),
        HTTP_PORT: String(await freePort()),
        STREAM_LIMIT: '3',
        ADMIN_TOKEN: 'bench',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      /ready/,
    );
    cleanups.push(() => stopChild(stack));
    const url = `ws://127.0.0.1:${wsPort}`;
    const store = new StreamStore(createDocumentClient(dynamo.endpoint), { tableName: 'streamgate' });
    const run = Date.now().toString(36);

    const pids = [stack.pid!, dynamo.pid];
    // DynamoDB Local's JIT takes some 10,000 transactions to reach its pace (151/s cold, ~390/s warm, seen here).
    log('warming up (the JVM and the stack)...');
    for (let i = 0; i < 4; i++) await rawAdmits(store, `warm${i}-${run}`, 3000, CONCURRENCY);
    await runLoad(
      loadOptions(url, [
        '--users',
        '500',
        '--streams-per-user',
        '3',
        '--concurrency',
        String(CONCURRENCY),
        '--user-prefix',
        `warm-${run}`,
      ]),
    );
    await quiet(pids);

    log(`(a) raw: ${STREAMS} guard transactions at concurrency ${CONCURRENCY}...`);
    const rawBefore = await rawAdmits(store, `raw-${run}`, STREAMS, CONCURRENCY);
    await quiet(pids);

    log(`(b) end to end: ${STREAMS} streams through the gateway at concurrency ${CONCURRENCY}...`);
    const e2e = await runLoad(
      loadOptions(url, [
        '--users',
        String(STREAMS / 3),
        '--streams-per-user',
        '3',
        '--concurrency',
        String(CONCURRENCY),
        '--user-prefix',
        `e2e-${run}`,
      ]),
    );
    await quiet(pids); // the 3000 releases after the run

    log('(a) raw again, to see whether DynamoDB Local drifted during the run...');
    const rawAfter = await rawAdmits(store, `raw2-${run}`, STREAMS, CONCURRENCY);
    await quiet(pids);
    const raw = (rawBefore + rawAfter) / 2;

    log('sequential: 300 connects one at a time...');
    const sequential = await runLoad(
      loadOptions(url, [
        '--users',
        '100',
        '--streams-per-user',
        '3',
        '--concurrency',
        '1',
        '--user-prefix',
        `seq-${run}`,
      ]),
    );

    log(`memory: ${IDLE_SOCKETS} idle sockets held on a fresh local stack...`);
    // A fresh stack process, so the heap earlier phases grew does not hide what the sockets cost.
    const idlePort = await freePort();
    const { child: idleStack } = await startChild(
      ['local/start.ts'],
      {
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        WS_PORT: String(idlePort),
        HTTP_PORT: String(await freePort()),
        STREAM_LIMIT: '3',
        ADMIN_TOKEN: 'bench',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      /ready/,
    );
    cleanups.push(() => stopChild(idleStack));
    const idleUrl = `ws://127.0.0.1:${idlePort}`;
    await runLoad(
      loadOptions(idleUrl, [
        '--users',
        '100',
        '--streams-per-user',
        '3',
        '--concurrency',
        '50',
        '--user-prefix',
        `idlewarm-${run}`,
      ]),
    );
    await quiet([idleStack.pid!, dynamo.pid]);
    const idleBefore = rssKiB(idleStack.pid!);
    let idleHeld = 0;
    const idleRun = await runLoad(
      loadOptions(idleUrl, [
        '--users',
        String(Math.ceil(IDLE_SOCKETS / 3)),
        '--streams-per-user',
        '3',
        '--concurrency',
        '100',
        '--user-prefix',
        `idle-${run}`,
      ]),
      {
        onSteady: async () => {
          await quiet([idleStack.pid!, dynamo.pid]);
          idleHeld = rssKiB(idleStack.pid!);
        },
      },
    );
    const idle = { beforeKiB: idleBefore, heldKiB: idleHeld };
    const perSocketKiB = (idle.heldKiB - idle.beforeKiB) / idleRun.heldAtEnd;
    await stopChild(idleStack);

    log(`the load tester's own ceiling: ${TOOL_SOCKETS} sockets against an accept-all server...`);
    const { child: acceptAll, line } = await startChild(['tools/bench/accept-all-server.ts'], {}, /listening/);
    cleanups.push(() => stopChild(acceptAll));
    const toolPort = Number(line.split(' ')[1]);
    let toolHeldKiB = 0;
    const toolBefore = rssKiB(process.pid);
    const tool = await runLoad(
      loadOptions(`ws://127.0.0.1:${toolPort}`, [
        '--users',
        String(TOOL_SOCKETS),
        '--streams-per-user',
        '1',
        '--limit',
        '1',
        '--concurrency',
        '500',
        '--user-prefix',
        'tool',
      ]),
      {
        onSteady: async () => {
          toolHeldKiB = rssKiB(process.pid);
        },
      },
    );
    await stopChild(acceptAll);

    const results = {
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
      idleSockets: {
        held: idleRun.heldAtEnd,
        stackRssBeforeMiB: Math.round(idle.beforeKiB / 1024),
        stackRssHeldMiB: Math.round(idle.heldKiB / 1024),
        perSocketKiB: Math.round(perSocketKiB * 10) / 10,
      },
      tool: {
        sockets: tool.heldAtEnd,
        handshakesPerSecond: tool.admittedPerSecond.mean,
        connectMs: tool.latencyMs.admitted,
        rssHeldMiB: Math.round(toolHeldKiB / 1024),
        rssGrowthMiB: Math.round((toolHeldKiB - toolBefore) / 1024),
        errors: failedHandshakes(tool),
      },
    };

    mkdirSync('tools/bench/results', { recursive: true });
    const file = `tools/bench/results/${results.date.replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

    const l = (x: { p50: number; p99: number }) => `p50 ${x.p50} ms, p99 ${x.p99} ms`;
    log('');
    log(`streamgate bench (${results.machine.cpus} cores, ${results.machine.node})`);
    log(
      `  raw guard transactions   ${results.raw.transactionsPerSecond}/s at concurrency ${CONCURRENCY} (${results.raw.before}/s before, ${results.raw.after}/s after)`,
    );
    log(
      `  end-to-end admissions    ${results.endToEnd.admittedPerSecond}/s at concurrency ${CONCURRENCY} (${e2e.admitted} admitted, ${results.endToEnd.violations} violations)`,
    );
    log(`  ratio end-to-end / raw   ${results.ratio}`);
    log(`  connect under load       ${l(e2e.latencyMs.admitted)}`);
    log(`  connect one at a time    ${l(sequential.latencyMs.admitted)} (n=${sequential.latencyMs.admitted.count})`);
    log(
      `  idle sockets             ${results.idleSockets.held} held, ${results.idleSockets.perSocketKiB} KiB each in the stack (RSS ${results.idleSockets.stackRssBeforeMiB} -> ${results.idleSockets.stackRssHeldMiB} MiB)`,
    );
    log(
      `  load tester ceiling      ${results.tool.handshakesPerSecond} handshakes/s, ${results.tool.sockets} sockets held, RSS ${results.tool.rssHeldMiB} MiB, ${results.tool.errors} errors`,
    );
    log(`  written to ${file}`);
    process.stdout.write(`${JSON.stringify(results)}\n`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
